#!/usr/bin/env bash
# Prepare an Airflow home with a SQLite database for the embedded default; idempotent.
set -euo pipefail
source "$(dirname "$0")/env.sh"
mkdir -p "$AIRFLOW_HOME"
if [ -f "$AIRFLOW_HOME/airflow.db" ] && [ -f "$AIRFLOW_HOME/.migrated" ]; then
  echo "setup-airflow: $AIRFLOW_HOME is ready"
  exit 0
fi
echo "setup-airflow: migrating the SQLite metadata database in $AIRFLOW_HOME"
airflow db migrate > "$AIRFLOW_HOME/migrate.log" 2>&1 || { tail -20 "$AIRFLOW_HOME/migrate.log"; exit 1; }
touch "$AIRFLOW_HOME/.migrated"
echo "setup-airflow: done"
