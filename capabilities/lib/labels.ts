// Kubernetes label syntax, for values that come from users and must end up in labels or
// label selectors (a bad one makes the apiserver reject the whole object).

const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/** True for a valid label value: at most 63 characters, alphanumeric at both ends, '-', '_', '.' inside; empty is valid. */
export function isLabelValue(v: string): boolean {
  return v.length <= 63 && LABEL_VALUE.test(v);
}
