// Admission for module pods: bindings only; the logic lives in the pure functions beside it.
import { a, Capability } from "pepr";
import { config } from "../lib/runtime";
import { COMPONENT_MODULE, LABEL_COMPONENT } from "../lib/contract";
import { withVNodeTolerations } from "./tolerations";

export const ModuleAdmission = new Capability({
  name: "module-admission",
  description:
    "Fills in what a Koupleless module pod needs to run on a VNode, and rejects what never could.",
});

const { When } = ModuleAdmission;

When(a.Pod)
  .IsCreated()
  .WithLabel(LABEL_COMPONENT, COMPONENT_MODULE)
  .Mutate(req => {
    const spec = req.Raw.spec;
    if (!spec) return;
    spec.tolerations = withVNodeTolerations(spec.tolerations, config().env);
  });
