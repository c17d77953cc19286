#!/usr/bin/env bash
# Install what the CeleryExecutor tests drive: Debian's redis-server (the broker; the tests start their own on a
# free port, so the packaged service is stopped and disabled) and apache-airflow-providers-celery in $VENV, pinned
# to the installed Airflow so pip does not move it. Celery stays below 5.7: 5.7.0 dropped
# celery.backends.database.retry, which the provider (3.26.0) imports, so every `airflow celery` command fails.
# Idempotent; needs root for apt-get.
set -euo pipefail
source "$(dirname "$0")/env.sh"
if ! command -v redis-server > /dev/null; then
  echo "setup-celery: installing Debian's redis-server"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends redis-server
  # The package starts a system redis on 6379 where an init system runs; the tests need none of it.
  if command -v systemctl > /dev/null && systemctl is-system-running > /dev/null 2>&1; then
    systemctl disable --now redis-server > /dev/null 2>&1 || true
  else
    service redis-server stop > /dev/null 2>&1 || true
  fi
fi
# Importing the executor is the check that matters: it imports celery's database backend and redis.
if ! "$VENV/bin/python" -c "import airflow.providers.celery.executors.celery_executor, redis" > /dev/null 2>&1; then
  airflow_version="$("$VENV/bin/python" -c 'from importlib.metadata import version; print(version("apache-airflow"))')"
  core_version="$("$VENV/bin/python" -c 'from importlib.metadata import version; print(version("apache-airflow-core"))')"
  echo "setup-celery: installing apache-airflow-providers-celery for Airflow $airflow_version into $VENV"
  "$VENV/bin/pip" install -q "apache-airflow==$airflow_version" "apache-airflow-core==$core_version" \
    "apache-airflow-providers-celery" "celery[redis]>=5.5,<5.7"
fi
echo "setup-celery: $(redis-server --version | cut -d' ' -f1-3);" \
  "apache-airflow-providers-celery $("$VENV/bin/python" -c 'from importlib.metadata import version; print(version("apache-airflow-providers-celery"))')"
