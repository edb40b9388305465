#!/usr/bin/env bash
# The runs behind docs/benchmarks.md, one after another; each writes its JSON to
# bench-results/<name>.json. Start the cluster first to choose the controller-manager's
# client rate, e.g. KUBE_LOCAL_KCM_API_QPS=200 npm run cluster:up (upstream default: 20).
# About 60 minutes on 2 cores. Pass run names to run only those: bash hack/bench/curve.sh idle-b10
set -euo pipefail
cd "$(dirname "$0")/../.."
only=" $* "
run() {
  local name=$1
  shift
  [[ "$only" == "  " || "$only" == *" $name "* ]] || return 0
  echo "== npm run bench -- $* --out bench-results/$name.json"
  npm run -s bench -- "$@" --out "bench-results/$name.json"
}
# the largest first: 1000 bases idle for 5 minutes, 1000 bases with 5000 modules
run idle-b1000 --idle-bases 1000 --duration 300
run churn-b1000-m5000 --bases 1000 --modules 5000 --passes steady
# module churn as bare pods (our part without the controller-manager) and through Deployments
run churn-b10-m100-bare --bases 10 --modules 100 --bare
run churn-b100-m1000-bare --bases 100 --modules 1000 --bare
run churn-b10-m100 --bases 10 --modules 100 --admission
# idle cost, 5-minute windows
run idle-b100 --idle-bases 100 --duration 300
run idle-b10 --idle-bases 10 --duration 300
run churn-b100-m1000 --bases 100 --modules 1000
run churn-b100-m1000-r3 --bases 100 --modules 1000 --replicas 3
# issue 19 (2026-12-03): writes by client need the cluster started with KUBE_LOCAL_AUDIT=1
run idle-b100-audit --idle-bases 100 --duration 120
run idle-b1000-audit --idle-bases 1000 --duration 120
run churn-b10-m100-bare-r3 --bases 10 --modules 100 --replicas 3 --bare
run churn-b10-m300-bare-r3-rolling --bases 10 --modules 300 --rate 5 --replicas 3 --bare --passes steady --rolling-restart
run churn-b100-m200-bare --bases 100 --modules 200 --bare
