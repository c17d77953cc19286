#!/usr/bin/env bash
# Remove what the demo and tests left: every container and network we labelled, the registry, the demo state.
set -euo pipefail
source "$(dirname "$0")/env.sh"
if docker info > /dev/null 2>&1; then
  ids=$(docker ps -aq --filter label=ml-lifecycle.managed=true)
  if [ -n "$ids" ]; then
    echo "clean: removing $(echo "$ids" | wc -l) container(s) labelled ml-lifecycle.managed"
    docker rm -f $ids > /dev/null
  fi
  nets=$(docker network ls -q --filter label=ml-lifecycle.managed=true)
  [ -z "$nets" ] || { echo "clean: removing networks"; docker network rm $nets > /dev/null; }
fi
bash "$ML_REPO_ROOT/scripts/bootstrap.sh" stop-registry
echo "clean: removing $ML_LIFECYCLE_HOME and $AIRFLOW_HOME"
rm -rf "$ML_LIFECYCLE_HOME" "$AIRFLOW_HOME"
echo "clean: done (the virtualenv .venv and the base image stay; rm -rf .venv to drop the former)"
