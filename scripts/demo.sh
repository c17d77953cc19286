#!/usr/bin/env bash
# The lifecycle demo on the embedded default: build, push, train, export, batch-transform, deploy, predict.
set -euo pipefail
source "$(dirname "$0")/env.sh"
started=$(date +%s)
bash "$ML_REPO_ROOT/scripts/setup-venv.sh"
bash "$ML_REPO_ROOT/scripts/bootstrap.sh" all
bash "$ML_REPO_ROOT/scripts/setup-airflow.sh"
data="$ML_LIFECYCLE_HOME/artifacts/data"
if [ ! -d "$data/raw" ]; then  # raw/ came last: older sample data is regenerated (the same bytes, plus raw/)
  python "$ML_REPO_ROOT/examples/data/generate.py" --out "$data"
else
  echo "demo: sample data already in $data"
fi
log="$ML_LIFECYCLE_HOME/logs/demo-dags-test.log"
mkdir -p "$(dirname "$log")"
echo "demo: running the retrain_and_deploy DAG with 'airflow dags test' (task logs: $log)"
if ! airflow dags test retrain_and_deploy > "$log" 2>&1; then
  grep -E "ERROR|Error|error" "$log" | tail -30 || true
  echo "demo: the DAG run failed; see $log"
  exit 1
fi
grep -E "DagRun Finished" "$log" | sed 's/.*\(state=[a-z]*\).*/demo: DAG run \1/'
artifacts="$ML_LIFECYCLE_HOME/artifacts"
echo "demo: artifacts in $artifacts:"
(cd "$artifacts" && find training registry predictions -type f -newer "$log" -o -type f -name '*.json' | sort | sed 's/^/  /' | tail -12)
ml-lifecycle models "file://$artifacts/registry" linear | sed 's/^/demo: /'
ml-lifecycle endpoints | sed 's/^/demo: /'
row=$(head -n 1 "$data/score/score.csv")
echo "demo: POST $(ml-lifecycle url linear)/invocations with the row: $row"
prediction=$(echo "$row" | ml-lifecycle invoke linear --content-type text/csv)
echo "demo: prediction: $prediction"
echo "demo: finished in $(( $(date +%s) - started )) s; 'make clean' removes the endpoint, the registry and the demo state"
