#!/usr/bin/env bash
# Prepare a machine to run the ml_lifecycle demo and tests against a local Docker engine.
#
# Usage: scripts/bootstrap.sh {engine|registry|base-image|credentials|all|stop-registry}
#
#   engine         make `docker info` work: start dockerd (installing docker.io first on
#                  Debian/Ubuntu as root when dockerd is missing).
#   registry       an OCI registry on 127.0.0.1:${ML_LIFECYCLE_REGISTRY_PORT:-5000}: the
#                  registry:2 container when that image is present or pullable, otherwise
#                  Debian's docker-registry program started in the background.
#   base-image     the base image ${BASE_IMAGE:-python:3.11-slim}: pulled, or built offline
#                  with debootstrap (Debian bookworm minbase + python3) when pulls fail.
#   credentials    put 169.254.170.2 on `lo`, as ECS agents do, so jobs with role_arn can serve their
#                  role's credentials to containers there (needs root; skipped, saying so, without).
#   all            engine, registry, base-image, credentials in that order.
#   stop-registry  stop the registry started by `registry` (pid file or container).
#
# Every step is idempotent and prints one line saying what it did or that it was done already.
# Processes do not survive the session that started them, so run this at the start of a
# session or CI job; it is cheap when everything is in place.
#
# Environment:
#   ML_LIFECYCLE_HOME           state folder (default: <repo root>/.demo): logs/, registry/
#   ML_LIFECYCLE_REGISTRY_PORT  registry port on 127.0.0.1 (default 5000)
#   BASE_IMAGE                  base image name (default python:3.11-slim)
#   DEBIAN_MIRROR               mirror for debootstrap (default http://deb.debian.org/debian)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ML_LIFECYCLE_HOME="${ML_LIFECYCLE_HOME:-${REPO_ROOT}/.demo}"
REGISTRY_PORT="${ML_LIFECYCLE_REGISTRY_PORT:-5000}"
REGISTRY_CONTAINER="ml-lifecycle-registry"
REGISTRY_IMAGE="registry:2"
REGISTRY_DIR="${ML_LIFECYCLE_HOME}/registry"
REGISTRY_PIDFILE="${REGISTRY_DIR}/registry.pid"
LOG_DIR="${ML_LIFECYCLE_HOME}/logs"
BASE_IMAGE="${BASE_IMAGE:-python:3.11-slim}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DEBIAN_SUITE="bookworm"

say() { printf 'bootstrap: %s\n' "$*"; }
die() { printf 'bootstrap: ERROR: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }
is_debian_like() { [ -f /etc/debian_version ] && command -v apt-get >/dev/null 2>&1; }

apt_updated=0
apt_install() {
    # apt_install PKG... : non-interactive install, `apt-get update` at most once per run.
    if [ "$apt_updated" -eq 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

docker_ok() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

http_ok() {
    # http_ok URL : true when URL answers 2xx within 2 s.
    if command -v curl >/dev/null 2>&1; then
        curl -sf -o /dev/null --max-time 2 "$1"
    else
        python3 - "$1" <<'EOF' >/dev/null 2>&1
import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=2)
EOF
    fi
}

start_detached() {
    # start_detached LOGFILE CMD... : run CMD in its own session, immune to hangups, output to
    # LOGFILE; sets STARTED_PID. setsid does not fork here (the background child is not a
    # process-group leader), so $! is the daemon's own pid.
    local log="$1"; shift
    mkdir -p "$(dirname "$log")"
    setsid nohup "$@" >>"$log" 2>&1 </dev/null &
    STARTED_PID=$!
}

# --------------------------------------------------------------------------------------- engine
cmd_engine() {
    if docker_ok; then
        say "engine: docker engine already answers ($(docker info --format '{{.ServerVersion}}' 2>/dev/null))"
        return 0
    fi
    if ! is_root || ! is_debian_like; then
        die "engine: 'docker info' fails and this is not root on Debian/Ubuntu; install and start Docker Engine (https://docs.docker.com/engine/install/), make sure your user may use /var/run/docker.sock, then rerun"
    fi
    # /usr/local/bin/docker may be a client only: look for the daemon itself.
    if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
        say "engine: installing docker.io with apt-get (dockerd or the docker client is missing)"
        apt_install docker.io
    fi
    if pgrep -x dockerd >/dev/null 2>&1; then
        say "engine: dockerd is already running (pid $(pgrep -x dockerd | head -n1)), waiting for it to answer"
    else
        local log="${LOG_DIR}/dockerd.log"
        start_detached "$log" dockerd
        say "engine: started dockerd in the background (pid ${STARTED_PID}, log ${log})"
    fi
    local t0
    t0=$(date +%s%N)
    for _ in $(seq 1 120); do
        if docker_ok; then
            say "engine: docker engine answers after $(( ($(date +%s%N) - t0) / 1000000 )) ms ($(docker info --format '{{.ServerVersion}}'))"
            return 0
        fi
        sleep 0.5
    done
    tail -n 20 "${LOG_DIR}/dockerd.log" >&2 2>/dev/null || true
    die "engine: dockerd did not answer 'docker info' within 60 s (see ${LOG_DIR}/dockerd.log)"
}

# ------------------------------------------------------------------------------------- registry
registry_url() { printf 'http://127.0.0.1:%s/v2/' "$REGISTRY_PORT"; }

wait_registry() {
    # wait_registry PID-OR-EMPTY : poll /v2/ every 0.2 s for at most 30 s.
    local pid="${1:-}"
    for _ in $(seq 1 150); do
        if http_ok "$(registry_url)"; then
            return 0
        fi
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            return 1  # the process died (port taken, bad config, ...)
        fi
        sleep 0.2
    done
    return 1
}

registry_image_available() {
    docker image inspect "$REGISTRY_IMAGE" >/dev/null 2>&1 \
        || timeout 20 docker pull -q "$REGISTRY_IMAGE" >/dev/null 2>&1
}

registry_pid() {
    # The pid from the pid file when it is a live docker-registry process, else nothing.
    local pid
    [ -f "$REGISTRY_PIDFILE" ] || return 1
    pid="$(cat "$REGISTRY_PIDFILE" 2>/dev/null || true)"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null | grep -q 'registry' || return 1
    printf '%s\n' "$pid"
}

write_registry_config() {
    mkdir -p "${REGISTRY_DIR}/data"
    cat >"${REGISTRY_DIR}/config.yml" <<EOF
# Written by scripts/bootstrap.sh: local OCI registry for ml_lifecycle (no auth, loopback only).
version: 0.1
log:
  level: info
  fields:
    service: ml-lifecycle-registry
storage:
  filesystem:
    rootdirectory: ${REGISTRY_DIR}/data
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:${REGISTRY_PORT}
  secret: ml-lifecycle-local-registry
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
EOF
}

find_registry_program() {
    local p
    for p in "$(command -v docker-registry 2>/dev/null || true)" /usr/bin/docker-registry; do
        if [ -n "$p" ] && [ -x "$p" ]; then printf '%s\n' "$p"; return 0; fi
    done
    return 1
}

cmd_registry() {
    if http_ok "$(registry_url)"; then
        say "registry: already answering on $(registry_url)"
        return 0
    fi
    # A registry we started earlier that is still starting up.
    local pid
    if pid="$(registry_pid)"; then
        if wait_registry "$pid"; then
            say "registry: docker-registry (pid ${pid}) now answers on $(registry_url)"
            return 0
        fi
        die "registry: docker-registry (pid ${pid}) runs but does not answer; see ${LOG_DIR}/registry.log or run '$0 stop-registry'"
    fi
    docker_ok || die "registry: the docker engine does not answer; run '$0 engine' first"

    # 1. The registry:2 container, only when the image is here already or can be pulled.
    if registry_image_available; then
        docker rm -f "$REGISTRY_CONTAINER" >/dev/null 2>&1 || true
        mkdir -p "${REGISTRY_DIR}/data"
        docker run -d --restart=always --name "$REGISTRY_CONTAINER" \
            -p "127.0.0.1:${REGISTRY_PORT}:5000" \
            -e REGISTRY_STORAGE_DELETE_ENABLED=true \
            -v "${REGISTRY_DIR}/data:/var/lib/registry" \
            "$REGISTRY_IMAGE" >/dev/null
        wait_registry "" || die "registry: container ${REGISTRY_CONTAINER} does not answer on $(registry_url) after 30 s (docker logs ${REGISTRY_CONTAINER})"
        say "registry: started container ${REGISTRY_CONTAINER} (${REGISTRY_IMAGE}) on $(registry_url)"
        return 0
    fi

    # 2. Debian's docker-registry program (the distribution registry), run in the background.
    local prog
    if ! prog="$(find_registry_program)"; then
        if ! is_root || ! is_debian_like; then
            die "registry: ${REGISTRY_IMAGE} cannot be pulled and docker-registry is not installed; install the 'docker-registry' package (Debian/Ubuntu) or make ${REGISTRY_IMAGE} available"
        fi
        say "registry: installing docker-registry with apt-get (${REGISTRY_IMAGE} cannot be pulled)"
        apt_install docker-registry
        # On machines with systemd the package starts its own service on :5000; we run our own.
        if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
            systemctl disable --now docker-registry >/dev/null 2>&1 || true
            say "registry: stopped and disabled the distribution's docker-registry service"
        fi
        prog="$(find_registry_program)" || die "registry: docker-registry still missing after apt-get install"
    fi
    write_registry_config
    local log="${LOG_DIR}/registry.log"
    start_detached "$log" "$prog" serve "${REGISTRY_DIR}/config.yml"
    printf '%s\n' "$STARTED_PID" >"$REGISTRY_PIDFILE"
    if ! wait_registry "$STARTED_PID"; then
        tail -n 15 "$log" >&2 || true
        kill "$STARTED_PID" 2>/dev/null || true
        rm -f "$REGISTRY_PIDFILE"
        die "registry: ${prog} exited or did not answer on $(registry_url) within 30 s (is the port taken? log ${log})"
    fi
    say "registry: started ${prog} (pid ${STARTED_PID}, ${REGISTRY_IMAGE} not available) on $(registry_url), data ${REGISTRY_DIR}/data, log ${log}"
}

cmd_stop_registry() {
    local pid stopped=0
    if pid="$(registry_pid)"; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
        rm -f "$REGISTRY_PIDFILE"
        say "stop-registry: stopped docker-registry (pid ${pid})"
        stopped=1
    else
        rm -f "$REGISTRY_PIDFILE"
    fi
    if docker_ok && docker container inspect "$REGISTRY_CONTAINER" >/dev/null 2>&1; then
        docker rm -f "$REGISTRY_CONTAINER" >/dev/null
        say "stop-registry: removed container ${REGISTRY_CONTAINER} (data stays in ${REGISTRY_DIR}/data)"
        stopped=1
    fi
    if [ "$stopped" -eq 0 ]; then
        say "stop-registry: no registry of ours is running (nothing to do)"
    fi
}

# ----------------------------------------------------------------------------------- base-image
ROOTFS_TMP=""
cleanup_rootfs() {
    [ -n "$ROOTFS_TMP" ] && [ -d "$ROOTFS_TMP" ] || return 0
    local m
    # debootstrap mounts these inside the target and can leave them behind when it fails.
    for m in dev/pts dev/shm dev proc sys; do
        if mountpoint -q "${ROOTFS_TMP}/rootfs/${m}" 2>/dev/null; then
            umount -l "${ROOTFS_TMP}/rootfs/${m}" 2>/dev/null || true
        fi
    done
    rm -rf --one-file-system "$ROOTFS_TMP"
    ROOTFS_TMP=""
}

cmd_base_image() {
    if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
        say "base-image: ${BASE_IMAGE} already present"
        return 0
    fi
    docker_ok || die "base-image: the docker engine does not answer; run '$0 engine' first"
    if timeout 60 docker pull -q "$BASE_IMAGE" >/dev/null 2>&1; then
        say "base-image: pulled ${BASE_IMAGE}"
        return 0
    fi
    is_root || die "base-image: ${BASE_IMAGE} cannot be pulled and building it offline with debootstrap needs root"
    if ! command -v debootstrap >/dev/null 2>&1; then
        is_debian_like || die "base-image: ${BASE_IMAGE} cannot be pulled and debootstrap is not installed"
        say "base-image: installing debootstrap with apt-get"
        apt_install debootstrap
    fi
    local started=$SECONDS rootfs
    # Under ML_LIFECYCLE_HOME rather than /tmp: /tmp may be a small or noexec tmpfs.
    mkdir -p "${ML_LIFECYCLE_HOME}/tmp"
    ROOTFS_TMP="$(mktemp -d "${ML_LIFECYCLE_HOME}/tmp/rootfs.XXXXXX")"
    trap cleanup_rootfs EXIT
    rootfs="${ROOTFS_TMP}/rootfs"
    mkdir -p "$LOG_DIR"
    local log="${LOG_DIR}/debootstrap.log"
    if ! debootstrap --variant=minbase --include=python3,ca-certificates \
            "$DEBIAN_SUITE" "$rootfs" "$DEBIAN_MIRROR" >"$log" 2>&1; then
        tail -n 20 "$log" >&2 || true
        die "base-image: debootstrap ${DEBIAN_SUITE} from ${DEBIAN_MIRROR} failed (log ${log})"
    fi
    # Slim the tree: package lists, caches, logs, manuals and docs (copyright files are kept)
    # have no use in an image.
    rm -rf "${rootfs}/var/lib/apt/lists/"* "${rootfs}/var/cache/apt/"*.bin \
        "${rootfs}/var/cache/apt/archives/"*.deb "${rootfs}/var/cache/debconf/"*-old \
        "${rootfs}/var/log/"*.log "${rootfs}/var/log/apt/"* "${rootfs}/tmp/"* "${rootfs}/root/.cache" \
        "${rootfs}/usr/share/man/"* "${rootfs}/usr/share/info/"*
    find "${rootfs}/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete 2>/dev/null || true
    find "${rootfs}/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
    # Like the official python images: `python` is python3.
    mkdir -p "${rootfs}/usr/local/bin"
    ln -sf /usr/bin/python3 "${rootfs}/usr/local/bin/python"
    tar --numeric-owner -C "$rootfs" -c . | docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'LABEL org.opencontainers.image.description="Debian bookworm minbase + python3, built offline by ml_lifecycle scripts/bootstrap.sh"' \
        --change 'CMD ["python3"]' \
        - "$BASE_IMAGE" >/dev/null
    cleanup_rootfs
    trap - EXIT
    docker run --rm "$BASE_IMAGE" python -c 'import sys; assert sys.version_info >= (3, 11)' \
        || die "base-image: the image built offline does not run python"
    say "base-image: built ${BASE_IMAGE} offline with debootstrap because it could not be pulled ($(( SECONDS - started )) s, Debian ${DEBIAN_SUITE} python3 from ${DEBIAN_MIRROR})"
}

# ------------------------------------------------------------------------------------------ credentials
CREDENTIALS_ADDRESS="169.254.170.2"

cmd_credentials() {
    if ip -4 addr show dev lo 2>/dev/null | grep -q "inet ${CREDENTIALS_ADDRESS}/"; then
        say "credentials: ${CREDENTIALS_ADDRESS} is on lo already"
        return
    fi
    if ! is_root || ! command -v ip >/dev/null 2>&1; then
        say "credentials: skipped (needs root and ip): jobs with role_arn will say how to add ${CREDENTIALS_ADDRESS}"
        return
    fi
    ip addr add "${CREDENTIALS_ADDRESS}/32" dev lo
    say "credentials: added ${CREDENTIALS_ADDRESS}/32 to lo (the containers' credentials endpoint address)"
}

# ------------------------------------------------------------------------------------------ main
usage() {
    sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

main() {
    [ "$#" -eq 1 ] || usage
    case "$1" in
        engine) cmd_engine ;;
        registry) cmd_registry ;;
        base-image) cmd_base_image ;;
        credentials) cmd_credentials ;;
        all) cmd_engine; cmd_registry; cmd_base_image; cmd_credentials ;;
        stop-registry) cmd_stop_registry ;;
        -h|--help|help) usage ;;
        *) usage ;;
    esac
}

main "$@"
