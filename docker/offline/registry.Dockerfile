# Debian's docker-registry (the distribution registry, as in registry:2) for docker-compose.offline.yaml, on port
# 5000 with its data in /var/lib/registry like registry:2. Build context: docker/.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
RUN set -e; \
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d; \
    apt-get update -q; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker-registry; \
    rm -rf /var/lib/apt/lists/*; \
    mkdir -p /var/lib/registry
COPY offline/registry-config.yml /etc/docker/registry/config.yml
EXPOSE 5000
CMD ["docker-registry", "serve", "/etc/docker/registry/config.yml"]
