"""Which function runs an instance's part of a job, by the job document's kind (imported only when needed)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

# kind -> "module:function"; each function takes (document URI, sink, metadata client) and returns an exit code.
HOST_RUNNERS = {
    "training": "ml_lifecycle.agent.instance.runner:run_instance_agent",
    "transform": "ml_lifecycle.agent.instance.transform_host:run_transform_host",
    "processing": "ml_lifecycle.agent.instance.runner:run_processing_agent",
    "endpoint": "ml_lifecycle.agent.instance.endpoint_host:run_endpoint_host",
}


def host_runner(kind: str) -> Callable[..., int]:
    """Return the function that runs this instance's part of a job of the given kind.

    :param kind: the job document's kind.
    """
    if kind not in HOST_RUNNERS:
        raise ValueError(f"No instance runner for jobs of kind {kind!r}; known: {', '.join(HOST_RUNNERS)}")
    module, function = HOST_RUNNERS[kind].split(":")
    runner: Any = getattr(importlib.import_module(module), function)
    return runner
