# PostgreSQL from Debian's packages (postgresql-15 on the bookworm base that scripts/bootstrap.sh builds), standing in
# for postgres:16 in docker-compose.offline.yaml. Build context: docker/. The entrypoint initialises the cluster
# once in the volume and honours POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB like the official image.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
# No daemon starts during the build (policy-rc.d) and the package creates no cluster of its own: ours lives in the
# volume, made by the entrypoint.
RUN set -e; \
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d; \
    mkdir -p /etc/postgresql-common/createcluster.d; \
    echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/no-main-cluster.conf; \
    apt-get update -q; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql; \
    rm -rf /var/lib/apt/lists/*; \
    ln -s "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)" /usr/lib/postgresql/bin; \
    mkdir -p /var/lib/postgresql/data && chown postgres:postgres /var/lib/postgresql/data && chmod 700 /var/lib/postgresql/data
ENV PATH=/usr/lib/postgresql/bin:$PATH PGDATA=/var/lib/postgresql/data
COPY offline/postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
# A fast shutdown (SIGINT) ends the connections, so `docker compose down` does not wait for the kill.
STOPSIGNAL SIGINT
EXPOSE 5432
ENTRYPOINT ["/bin/sh", "/usr/local/bin/postgres-entrypoint.sh"]
