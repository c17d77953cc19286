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
