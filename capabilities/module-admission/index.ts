// Admission for module pods: bindings only; the logic lives in the pure functions beside it.
import type { V1Pod } from "@kubernetes/client-node";
import { a, Capability, PeprMutateRequest, PeprValidateRequest } from "pepr";
import { config } from "../lib/runtime";
import { COMPONENT_MODULE, LABEL_COMPONENT } from "../lib/contract";
import { isModulePod } from "../lib/modules/biz";
import { keepMutatedAnnotation, mutateModulePod } from "./mutate";
import { denyMessage, newProblems } from "../lib/admission/messages";
import { Workload, workloadWarnings } from "./workload";
import {
  moduleLabelProblems,
  moduleWarnings,
  validateForeignPod,
  validateModulePod,
} from "./validate";

export const ModuleAdmission = new Capability({
  name: "module-admission",
  description:
    "Fills in what a Koupleless module pod needs to run on a VNode, and rejects what never could.",
});

const { When } = ModuleAdmission;

function mutateModule(req: PeprMutateRequest<a.Pod>): void {
  // Kubernetes forbids changing affinity (and most of the spec) of an existing pod: on UPDATE
  // only the annotation that says admission saw the pod is kept.
  const { pod } =
    req.Request.operation === "CREATE"
      ? mutateModulePod(req.Raw, config())
      : { pod: keepMutatedAnnotation(req.Raw, req.OldResource as V1Pod | undefined) };
  req.Raw.metadata = pod.metadata;
  req.Raw.spec = pod.spec;
}

function verdict(
  req: PeprValidateRequest<a.Pod>,
  check: (pod: V1Pod) => string[],
  warn: (pod: V1Pod) => string[] = () => [],
) {
  const old = req.OldResource as V1Pod | undefined;
  const problems = [...moduleLabelProblems(req.Raw, old), ...newProblems(check, req.Raw, old)];
  if (problems.length) return req.Deny(denyMessage(problems));
  const warnings = newProblems(warn, req.Raw, old);
  return warnings.length ? req.Approve(warnings) : req.Approve();
}

function validateModule(req: PeprValidateRequest<a.Pod>) {
  return verdict(
    req,
    pod => validateModulePod(pod, config()),
    pod => moduleWarnings(pod, config()),
  );
}

// Also judges a module pod losing its label: Pepr's label filter reads the new object only.
function validateForeign(req: PeprValidateRequest<a.Pod>) {
  if (isModulePod(req.Raw)) return req.Approve(); // a module: the binding above judges it
  return verdict(req, pod => validateForeignPod(pod, config()));
}

// Mutate on CREATE (an UPDATE only keeps the admission annotation); validate on CREATE and
// UPDATE (after every mutating webhook ran).
When(a.Pod).IsCreatedOrUpdated().WithLabel(LABEL_COMPONENT, COMPONENT_MODULE).Mutate(mutateModule);
When(a.Pod)
  .IsCreatedOrUpdated()
  .WithLabel(LABEL_COMPONENT, COMPONENT_MODULE)
  .Validate(validateModule);
// Pepr cannot select "without a label", so this sees every pod and lets modules through; its
// webhook entry selects non-module pods and fails open (lib/webhooks.ts).
When(a.Pod).IsCreatedOrUpdated().Validate(validateForeign);

// Workloads of module pods: warnings at `kubectl apply` for what their pods will meet (their
// webhook entry fails open: a workload never depends on the controller being up).
function validateWorkload(req: PeprValidateRequest<Workload & a.GenericKind>) {
  const warnings = workloadWarnings(req.Raw, config());
  return warnings.length ? req.Approve(warnings) : req.Approve();
}
When(a.Deployment).IsCreatedOrUpdated().Validate(validateWorkload);
When(a.DaemonSet).IsCreatedOrUpdated().Validate(validateWorkload);
