// Table of contents: load and validate the config once, list the capabilities, and start the
// watcher-side services (heartbeat tunnel, VNodes) only where Pepr runs watches.
import { Log, PeprModule } from "pepr";
import cfg from "./package.json";
import { config } from "./capabilities/lib/runtime";
import { isWatcherProcess, startController } from "./capabilities/lib/controller";
import { ModuleAdmission } from "./capabilities/module-admission";
import { ModuleLifecycle } from "./capabilities/module-lifecycle";

try {
  const conf = config(); // fail at start-up, with the variable's name, rather than on the first request
  new PeprModule(cfg, [ModuleAdmission, ModuleLifecycle]);
  if (isWatcherProcess(process.env)) {
    startController(conf, Log).catch(err => {
      Log.error(err, "koupleless-pepr controller failed to start");
      process.exit(1);
    });
  }
} catch (err) {
  Log.error(err, "koupleless-pepr failed to start");
  process.exit(1);
}
