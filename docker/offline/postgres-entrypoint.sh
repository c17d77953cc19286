#!/bin/sh
# Run PostgreSQL as the postgres image would for docker-compose.offline.yaml: on the first start, initialise the
# cluster in $PGDATA (superuser $POSTGRES_USER with $POSTGRES_PASSWORD, database $POSTGRES_DB); then run the server
# in the foreground on port 5432 of every interface (password auth over TCP, trust over the local socket).
set -eu
: "${PGDATA:=/var/lib/postgresql/data}"
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=${POSTGRES_USER}}"
: "${POSTGRES_PASSWORD:?postgres-entrypoint: set POSTGRES_PASSWORD}"

as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

mkdir -p "$PGDATA" /run/postgresql
chown postgres:postgres "$PGDATA" /run/postgresql
chmod 700 "$PGDATA"

major="$(postgres --version | sed -E 's/.* ([0-9]+)(\.[0-9]+)*.*/\1/')"
if [ -s "$PGDATA/PG_VERSION" ] && [ "$(cat "$PGDATA/PG_VERSION")" != "$major" ]; then
    echo "postgres-entrypoint: $PGDATA holds a PostgreSQL $(cat "$PGDATA/PG_VERSION") cluster and this is PostgreSQL" \
        "$major; remove the volume (docker compose down -v) to start afresh" >&2
    exit 1
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    echo "postgres-entrypoint: initialising PostgreSQL $major in $PGDATA (user $POSTGRES_USER, database $POSTGRES_DB)"
    pwfile="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
    chown postgres "$pwfile"
    as_postgres initdb --pgdata="$PGDATA" --username="$POSTGRES_USER" --pwfile="$pwfile" --encoding=UTF8 \
        --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 > /dev/null
    rm -f "$pwfile"
    printf '# docker-compose.offline.yaml: clients on other hosts (the Airflow containers) sign in by password.\n%s\n' \
        'host all all all scram-sha-256' >> "$PGDATA/pg_hba.conf"
    if [ "$POSTGRES_DB" != postgres ]; then
        # Single-user mode: no server to start and stop, and nothing listens before the database exists.
        echo "CREATE DATABASE \"$POSTGRES_DB\" OWNER \"$POSTGRES_USER\";" \
            | as_postgres postgres --single -D "$PGDATA" -j postgres > /dev/null
    fi
fi

exec setpriv --reuid=postgres --regid=postgres --init-groups \
    postgres -D "$PGDATA" -c listen_addresses='*' -c port=5432 "$@"
