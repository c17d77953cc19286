#!/usr/bin/env bash
# Download the wheels this image installs (pip itself and gunicorn) into wheels/, with the host's pip.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${PYTHON:-python3}"
mkdir -p "$here/wheels"
"$python" -m pip download --only-binary :all: --dest "$here/wheels" --quiet pip gunicorn
ls "$here/wheels"
