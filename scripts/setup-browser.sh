#!/usr/bin/env bash
# Install what the browser tests drive: Debian's chromium and the playwright client (its own browsers are not
# downloaded: the tests point it at /usr/bin/chromium). Idempotent; needs root for apt-get.
set -euo pipefail
source "$(dirname "$0")/env.sh"
if ! command -v chromium > /dev/null; then
  echo "setup-browser: installing Debian's chromium"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
fi
if ! "$VENV/bin/python" -c "import playwright" 2> /dev/null; then
  echo "setup-browser: installing playwright into $VENV"
  "$VENV/bin/pip" install -q "playwright>=1.45"
fi
echo "setup-browser: $(chromium --version 2> /dev/null || echo 'chromium missing'); playwright ready"
