// Table of contents: load and validate the config once, list the capabilities, and start the
// watcher-side services (heartbeat tunnel, VNode ownership) only where Pepr runs watches.
import { Log, PeprModule } from "pepr";
import cfg from "./package.json";
import { config } from "./capabilities/lib/runtime";
import { isWatcherProcess, startController, stopGracefully } from "./capabilities/lib/controller";
import { MODULE_NAMESPACE } from "./capabilities/lib/contract";
import { ModuleAdmission } from "./capabilities/module-admission";
import { PlacementPolicy } from "./capabilities/placement-policy";
import { ModuleLifecycle } from "./capabilities/module-lifecycle";

try {
  const conf = config(); // fail at start-up, with the variable's name, rather than on the first request
  // deferStart: a local replica serves Pepr's port from config (several run on one machine)
  // the placement policy first: module-admission turns its cluster choice into node affinity
  const mod = new PeprModule(cfg, [PlacementPolicy, ModuleAdmission, ModuleLifecycle], {
    deferStart: true,
  });
  if (process.env.PEPR_MODE !== "build") mod.start(conf.peprPort); // a build only lists bindings
  if (isWatcherProcess(process.env)) {
    startController(conf, Log)
      .then(running => stopGracefully(running, Log, MODULE_NAMESPACE))
      .catch(err => {
        Log.error(err, "koupleless-pepr controller failed to start");
        process.exit(1);
      });
  }
} catch (err) {
  Log.error(err, "koupleless-pepr failed to start");
  process.exit(1);
}
