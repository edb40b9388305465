// Table of contents: load and validate the config once, then list the capabilities.
import { Log, PeprModule } from "pepr";
import cfg from "./package.json";
import { config } from "./capabilities/lib/runtime";
import { ModuleAdmission } from "./capabilities/module-admission";

try {
  config(); // fail at start-up, with the variable's name, rather than on the first request
  new PeprModule(cfg, [ModuleAdmission]);
} catch (err) {
  Log.error(err, "koupleless-pepr failed to start");
  process.exit(1);
}
