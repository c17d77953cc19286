# Sourced by the scripts: where the embedded default keeps its state. Override any of these in the environment.
ML_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ML_REPO_ROOT
export ML_LIFECYCLE_HOME="${ML_LIFECYCLE_HOME:-$ML_REPO_ROOT/.demo}"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$ML_REPO_ROOT/.airflow}"
export AIRFLOW__CORE__DAGS_FOLDER="${AIRFLOW__CORE__DAGS_FOLDER:-$ML_REPO_ROOT/dags}"
export AIRFLOW__CORE__PLUGINS_FOLDER="${AIRFLOW__CORE__PLUGINS_FOLDER:-$ML_REPO_ROOT/plugins}"
export AIRFLOW__CORE__LOAD_EXAMPLES="${AIRFLOW__CORE__LOAD_EXAMPLES:-False}"
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="${AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION:-False}"
export VENV="${VENV:-$ML_REPO_ROOT/.venv}"
export PATH="$VENV/bin:$PATH"
