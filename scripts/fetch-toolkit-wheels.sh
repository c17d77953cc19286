#!/usr/bin/env bash
# Download everything the toolkit test images install: the training toolkit (examples/containers/toolkit/Dockerfile)
# and AWS's serving stack (sagemaker-inference with multi-model-server, tests/support/serving_image.py), so that
# `docker build` needs no network: containers here cannot reach PyPI.
#
# Usage: scripts/fetch-toolkit-wheels.sh [DEST]     (DEST default: examples/containers/toolkit/wheels)
#
#   1. builds the official sagemaker-training sdist from PyPI into a wheel on this host (it has a
#      C extension; the base image has no compiler). The host Python must be CPython 3.11 so the
#      wheel (cp311-cp311-linux_x86_64) loads in the image's python3.11. Its pinned dependency
#      inotify_simple==1.2.1 is an sdist only too: built the same way (pure Python);
#   2. downloads its dependencies as cp311 manylinux / pure-Python wheels, pip's own wheel included
#      (the Dockerfile runs pip from that wheel: the base image has no pip);
#   3. the same for the serving stack: sagemaker-inference (an sdist only, pure Python: built here) and
#      multi-model-server with their dependencies (setuptools too: the toolkit imports pkg_resources).
#
# Idempotent: when DEST/.complete lists the same toolkit version and every wheel it names is
# present, nothing is fetched. Prints one line per step.
#
# Environment:
#   SAGEMAKER_TRAINING_VERSION  toolkit version (default 5.1.4)
#   SAGEMAKER_INFERENCE_VERSION serving toolkit version (default 1.10.1); MMS_VERSION multi-model-server's (1.1.11)
#   TOOLKIT_PYTHON              host CPython 3.11 with pip (default: $VENV/bin/python, else python3.11)
#   IMAGE_GLIBC_MINOR           the image's glibc 2.x (default 36: Debian 12); wheels tagged manylinux_2_5 up to
#                               manylinux_2_<this> (and their manylinux1/2010/2014 aliases) are accepted
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${1:-${REPO_ROOT}/examples/containers/toolkit/wheels}"
VERSION="${SAGEMAKER_TRAINING_VERSION:-5.1.4}"
INFERENCE_VERSION="${SAGEMAKER_INFERENCE_VERSION:-1.10.1}"
MMS="multi-model-server==${MMS_VERSION:-1.1.11}"
WANTED="sagemaker-training==${VERSION} sagemaker-inference==${INFERENCE_VERSION} ${MMS}"
GLIBC_MINOR="${IMAGE_GLIBC_MINOR:-36}"
STAMP="${DEST}/.complete"

say() { printf 'fetch-toolkit-wheels: %s\n' "$*"; }
die() { printf 'fetch-toolkit-wheels: ERROR: %s\n' "$*" >&2; exit 1; }

if [ -f "$STAMP" ] && [ "$(head -n 1 "$STAMP")" = "$WANTED" ]; then
    missing=0
    while IFS= read -r wheel; do
        [ -f "${DEST}/${wheel}" ] || { missing=1; break; }
    done < <(tail -n +2 "$STAMP")
    if [ "$missing" -eq 0 ]; then
        say "${WANTED} and $(( $(wc -l <"$STAMP") - 1 )) wheels already in ${DEST}"
        exit 0
    fi
    say "${STAMP} names a wheel that is missing; fetching again"
fi

PY="${TOOLKIT_PYTHON:-}"
if [ -z "$PY" ]; then
    if [ -x "${VENV:-${REPO_ROOT}/.venv}/bin/python" ]; then
        PY="${VENV:-${REPO_ROOT}/.venv}/bin/python"
    else
        PY="$(command -v python3.11 || true)"
    fi
fi
[ -n "$PY" ] || die "no CPython 3.11 found; set TOOLKIT_PYTHON"
"$PY" -c 'import sys; assert sys.implementation.name == "cpython" and sys.version_info[:2] == (3, 11)' 2>/dev/null \
    || die "${PY} is not CPython 3.11: the toolkit wheel must match the image's python3.11"
"$PY" -m pip --version >/dev/null 2>&1 || die "${PY} has no pip"
command -v "${CC:-gcc}" >/dev/null 2>&1 || die "no C compiler (${CC:-gcc}): the toolkit's gethostname extension must be built"

mkdir -p "$DEST"
rm -f "$STAMP"
export PIP_DISABLE_PIP_VERSION_CHECK=1

# Built here from their PyPI sdists: the toolkit (C extension; the base image has no compiler) and the
# dependencies it pins to a release that exists only as an sdist (inotify_simple==1.2.1 is pure Python).
build_wheel() { # build_wheel NAME==VERSION GLOB
    if compgen -G "${DEST}/$2" >/dev/null; then
        say "$1: wheel already built"
    else
        say "$1: building a wheel from its PyPI sdist with $("$PY" -V 2>&1)"
        "$PY" -m pip wheel --quiet --no-deps --no-binary :all: -w "$DEST" "$1"
        compgen -G "${DEST}/$2" >/dev/null || die "$1: the wheel built is not $2"
    fi
}
build_wheel "sagemaker-training==${VERSION}" "sagemaker_training-${VERSION}-cp311-cp311-linux_x86_64.whl"
build_wheel "inotify_simple==1.2.1" "inotify_simple-1.2.1-py3-none-any.whl"
build_wheel "sagemaker-inference==${INFERENCE_VERSION}" "sagemaker_inference-${INFERENCE_VERSION}-py2.py3-none-any.whl"

# pip does not widen an explicit --platform to older manylinux tags: list every tag the image's glibc
# accepts, plus linux_x86_64 for the toolkit wheel built above.
platforms=(--platform linux_x86_64 --platform manylinux1_x86_64 --platform manylinux2010_x86_64 --platform manylinux2014_x86_64)
for minor in $(seq 5 "$GLIBC_MINOR"); do
    platforms+=(--platform "manylinux_2_${minor}_x86_64")
done
say "downloading its dependencies as cp311 manylinux (glibc <= 2.${GLIBC_MINOR}) / pure-Python wheels into ${DEST}"
"$PY" -m pip download --quiet --dest "$DEST" --find-links "$DEST" --only-binary=:all: \
    --implementation cp --python-version 3.11 --abi cp311 "${platforms[@]}" \
    "sagemaker-training==${VERSION}"
# Resolved apart: the serving toolkit pins retrying<1.4, which the training image need not share.
say "downloading the serving stack's dependencies (${MMS}, sagemaker-inference ${INFERENCE_VERSION}) into ${DEST}"
"$PY" -m pip download --quiet --dest "$DEST" --find-links "$DEST" --only-binary=:all: \
    --implementation cp --python-version 3.11 --abi cp311 "${platforms[@]}" \
    "sagemaker-inference==${INFERENCE_VERSION}" "$MMS" "setuptools<81"

compgen -G "${DEST}/pip-*.whl" >/dev/null || die "pip's own wheel was not downloaded"
{
    echo "$WANTED"
    (cd "$DEST" && ls -1 -- *.whl)
} >"${STAMP}.tmp"
mv "${STAMP}.tmp" "$STAMP"
say "done: $(( $(wc -l <"$STAMP") - 1 )) wheels, $(du -sh "$DEST" | cut -f1) in ${DEST}"
