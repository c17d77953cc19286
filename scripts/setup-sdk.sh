#!/usr/bin/env bash
# Install the SageMaker Python SDK v2 in a virtualenv of its own ($SDK_VENV, default <repo>/.venv-sdk): the tests
# drive it against our SageMaker-compatible API, as a notebook would. Kept apart from $VENV because the SDK pins
# packages (packaging, importlib-metadata, protobuf) that Airflow's environment must not have moved. Idempotent.
set -euo pipefail
source "$(dirname "$0")/env.sh"
SDK_VENV="${SDK_VENV:-$ML_REPO_ROOT/.venv-sdk}"
SDK_REQUIREMENT="sagemaker>=2.250,<3"
stamp="$SDK_VENV/.installed-$(echo "$SDK_REQUIREMENT" | sha256sum | cut -c1-12)"
if [ -f "$stamp" ]; then
  echo "setup-sdk: $SDK_VENV is ready ($("$SDK_VENV/bin/python" -c 'import sagemaker; print("sagemaker", sagemaker.__version__)' 2>/dev/null))"
  exit 0
fi
[ -x "$SDK_VENV/bin/python" ] || python3 -m venv "$SDK_VENV"
echo "setup-sdk: installing $SDK_REQUIREMENT into $SDK_VENV (a minute or two)"
"$SDK_VENV/bin/pip" install -q --upgrade pip
"$SDK_VENV/bin/pip" install -q "$SDK_REQUIREMENT"
rm -f "$SDK_VENV"/.installed-*
touch "$stamp"
echo "setup-sdk: $("$SDK_VENV/bin/python" -c 'import sagemaker; print("sagemaker", sagemaker.__version__)')"
