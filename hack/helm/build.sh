#!/usr/bin/env bash
# Builds helm from its Go module at a pinned version and caches the binary outside the
# repository, keyed by helm version and Go version (no download site is reachable here, the Go
# module proxy is). Prints the binary's path on its last line of stdout; progress goes to stderr.
set -euo pipefail
HELM_VERSION=${HELM_VERSION:-v4.3.2}
export GOTOOLCHAIN=local
export CGO_ENABLED=0
export GOFLAGS="-trimpath -buildvcs=false -modcacherw"
command -v go >/dev/null || { echo "helm/build.sh: Go is not installed (need Go >= 1.26)" >&2; exit 1; }
GOV=$(go env GOVERSION)
CACHE_ROOT=${HELM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/koupleless-pepr/helm}
OUT="$CACHE_ROOT/$HELM_VERSION-$GOV"
if [[ -x "$OUT/helm" ]]; then
  echo "$OUT/helm"
  exit 0
fi
echo "Building helm $HELM_VERSION with $GOV (first build only; a few minutes on 2 cores)..." >&2
START=$(date +%s)
TMP="$OUT.tmp.$$"
mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT
GOBIN="$TMP" go install -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" \
  "helm.sh/helm/v4/cmd/helm@$HELM_VERSION" >&2
[[ -x "$TMP/helm" ]] || { echo "helm/build.sh: go install failed (see above)" >&2; exit 1; }
rm -rf "$OUT"
mv "$TMP" "$OUT"
trap - EXIT
echo "Built helm in $(( $(date +%s) - START ))s: $OUT/helm" >&2
echo "$OUT/helm"
