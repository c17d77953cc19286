#!/usr/bin/env bash
# Install a compose CLI for the compose tests when neither `docker compose` nor `docker-compose` is there
# (Debian's docker-compose package). Idempotent; needs root for apt-get.
set -euo pipefail
if docker compose version > /dev/null 2>&1 || command -v docker-compose > /dev/null; then
  echo "setup-compose: $(docker compose version 2> /dev/null || docker-compose version --short)"
  exit 0
fi
echo "setup-compose: installing Debian's docker-compose"
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker-compose
echo "setup-compose: docker-compose $(docker-compose version --short)"
