#!/usr/bin/env bash
# The runs behind docs/benchmarks.md, one after another; each writes its JSON to
# bench-results/<name>.json. Start the cluster first to choose the controller-manager's
# client rate, e.g. KUBE_LOCAL_KCM_API_QPS=200 npm run cluster:up (upstream default: 20).
set -euo pipefail
cd "$(dirname "$0")/../.."
run() {
  local name=$1
  shift
  echo "== npm run bench -- $* --out bench-results/$name.json"
  npm run -s bench -- "$@" --out "bench-results/$name.json"
}
run churn-b10-m100 --bases 10 --modules 100 --admission
run churn-b100-m1000 --bases 100 --modules 1000
run idle-b10 --idle-bases 10 --duration 60
run idle-b100 --idle-bases 100 --duration 60
run idle-b1000 --idle-bases 1000 --duration 60   # did not finish starting on 2 cores (docs/benchmarks.md)
