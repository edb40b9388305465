// Module pods → the worker of their VNode. Bindings only: the worker reconciles from full
// state, so the event type matters only to say whether the pod still exists.
import { a, Capability } from "pepr";
import { COMPONENT_MODULE, LABEL_COMPONENT } from "../lib/contract";
import { onModulePod } from "../lib/controller";

export const ModuleLifecycle = new Capability({
  name: "module-lifecycle",
  description:
    "Installs and uninstalls bizzes on bases for module pods, and keeps their status true.",
});

const { When } = ModuleLifecycle;

When(a.Pod)
  .IsCreatedOrUpdated()
  .WithLabel(LABEL_COMPONENT, COMPONENT_MODULE)
  .Watch(pod => onModulePod(pod, false));

When(a.Pod)
  .IsDeleted()
  .WithLabel(LABEL_COMPONENT, COMPONENT_MODULE)
  .Watch(pod => onModulePod(pod, true));
