#!/usr/bin/env bash
# Create the project's virtualenv with the package (editable) and its test tools; idempotent.
set -euo pipefail
source "$(dirname "$0")/env.sh"
stamp="$VENV/.installed-$(sha256sum "$ML_REPO_ROOT/setup.py" | cut -c1-12)"
if [ -f "$stamp" ]; then
  echo "setup-venv: $VENV is ready"
  exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup-venv: creating $VENV"
  python3 -m venv "$VENV"
fi
echo "setup-venv: installing airflow-ml-lifecycle[test] and Apache Airflow into $VENV (a minute or two)"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q -e "$ML_REPO_ROOT[test]"
rm -f "$VENV"/.installed-*
touch "$stamp"
echo "setup-venv: done"
