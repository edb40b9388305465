// Placement policy for module pods: bindings only; the logic lives in policy.ts beside it.
import { a, Capability, Log, PeprMutateRequest, PeprValidateRequest } from "pepr";
import type { V1Namespace, V1Pod } from "@kubernetes/client-node";
import {
  ANNOTATION_ALLOWED_BASE_CLUSTERS,
  COMPONENT_MODULE,
  LABEL_COMPONENT,
} from "../lib/contract";
import { errText } from "../lib/errors";
import { apiRequest } from "../lib/kube/api";
import { denyMessage } from "../lib/admission/messages";
import { cachedFor, withTimeout } from "../lib/admission/lookup";
import { placeModulePod, Policy, policyOf, requestProblems, unreadablePolicy } from "./policy";

export const PlacementPolicy = new Capability({
  name: "placement-policy",
  description:
    "Keeps the module pods of a namespace on the base clusters its koupleless-pepr.io/allowed-base-clusters annotation allows.",
});

const { When } = PlacementPolicy;

// A few seconds: a burst of creates reads the namespace once, and an edited annotation applies
// almost at once. The timeout stays well inside the webhook's 10 s.
const NAMESPACE_TTL_MS = 5_000;
const NAMESPACE_TIMEOUT_MS = 3_000;

const namespaceAnnotation = cachedFor(async (ns: string) => {
  const get = apiRequest<V1Namespace>("GET", `/api/v1/namespaces/${ns}`);
  const read = withTimeout(get, NAMESPACE_TIMEOUT_MS, "GET namespace");
  return (await read).metadata?.annotations?.[ANNOTATION_ALLOWED_BASE_CLUSTERS];
}, NAMESPACE_TTL_MS);

type PodRequest = PeprMutateRequest<a.Pod> | PeprValidateRequest<a.Pod>;

async function policyFor(req: PodRequest): Promise<Policy> {
  const ns = req.Request.namespace || req.Raw.metadata?.namespace;
  if (!ns) return { kind: "none" };
  try {
    return policyOf(ns, await namespaceAnnotation(ns));
  } catch (err) {
    return unreadablePolicy(ns, errText(err));
  }
}

async function placeModule(req: PeprMutateRequest<a.Pod>): Promise<void> {
  const policy = await policyFor(req);
  // Never throw here: Pepr would refuse with a bare "denied without explanation"; validation
  // refuses the same pod with the policy's own message instead.
  if (policy.kind === "refuse") {
    Log.warn({ problem: policy.problem }, "placement policy: mutation skipped");
    return;
  }
  const pod = placeModulePod(req.Raw, policy);
  req.Raw.metadata = pod.metadata;
  req.Raw.spec = pod.spec;
}

async function checkModule(req: PeprValidateRequest<a.Pod>) {
  const old = req.OldResource as V1Pod | undefined; // undefined on CREATE
  const problems = requestProblems(req.Raw, await policyFor(req), old);
  return problems.length ? req.Deny(denyMessage(problems)) : req.Approve();
}

// Mutate on CREATE only: Kubernetes refuses any change to an existing pod's affinity. Validate on
// CREATE and UPDATE: the labels and annotations the policy judges can change at any time, and
// `kubectl label pod … --overwrite` must not ask for another cluster (requestProblems).
When(a.Pod).IsCreated().WithLabel(LABEL_COMPONENT, COMPONENT_MODULE).Mutate(placeModule);
When(a.Pod).IsCreatedOrUpdated().WithLabel(LABEL_COMPONENT, COMPONENT_MODULE).Validate(checkModule);
