"""Where the embedded default keeps things on this machine, read from the environment."""

from __future__ import annotations

import os
from pathlib import Path


def home_dir() -> Path:
    """The folder for local state (job work dirs, endpoint records, registry data); ML_LIFECYCLE_HOME."""
    return Path(os.environ.get("ML_LIFECYCLE_HOME") or Path.home() / ".ml-lifecycle").resolve()


def work_dir() -> Path:
    """The folder where jobs lay out /opt/ml on the engine's host; ML_LIFECYCLE_WORK_DIR."""
    return Path(os.environ.get("ML_LIFECYCLE_WORK_DIR") or home_dir() / "work").resolve()


def default_artifact_root() -> str:
    """The artifact root URI of the embedded default; ML_LIFECYCLE_ARTIFACT_ROOT."""
    return os.environ.get("ML_LIFECYCLE_ARTIFACT_ROOT") or f"file://{home_dir() / 'artifacts'}"


def region() -> str:
    """The AWS region reported to containers; AWS_REGION or AWS_DEFAULT_REGION, else us-east-1."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def serving_host() -> str:
    """The address at which published container ports are reached; ML_LIFECYCLE_SERVING_HOST."""
    return os.environ.get("ML_LIFECYCLE_SERVING_HOST") or "127.0.0.1"


PROXY_NETWORKS = ("host", "bridge")


def proxy_network() -> str:
    """How a local endpoint's nginx is reached; ML_LIFECYCLE_PROXY_NETWORK.

    ``host`` (the default) runs it on the engine host's network, listening on 127.0.0.1 itself: requests skip
    Docker's userland port proxy. ``bridge`` publishes its port through Docker instead, for engines whose host
    network is not the caller's (Docker Desktop, rootless Docker).
    """
    value = (os.environ.get("ML_LIFECYCLE_PROXY_NETWORK") or "host").strip().lower()
    if value not in PROXY_NETWORKS:
        from ml_lifecycle.errors import SpecError

        raise SpecError(
            "ML_LIFECYCLE_PROXY_NETWORK",
            f"{value!r} is not one of {', '.join(PROXY_NETWORKS)}",
            "Unset it (host, the default) or set bridge where the engine's host network is not this machine's",
        )
    return value


def page_computes() -> tuple[str, ...]:
    """The backends besides the local engine whose endpoints the ML lifecycle page lists; ML_LIFECYCLE_PAGE_COMPUTE.

    A comma-separated list, e.g. ``ec2`` (asked with the API server's ``aws_default`` connection); default none.
    """
    from ml_lifecycle.compute import check_compute

    names = (os.environ.get("ML_LIFECYCLE_PAGE_COMPUTE") or "").split(",")
    return tuple(check_compute(name.strip()) for name in names if name.strip())
