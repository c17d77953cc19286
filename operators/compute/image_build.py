"""Build images on the Docker engine, streaming the build log; a failed step is reported with its output."""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Callable, Mapping

from ml_lifecycle.compute.docker_engine import DockerEngine, ImageInfo
from ml_lifecycle.errors import EngineError

log = logging.getLogger(__name__)

_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)")
TAIL_LINES = 20


class BuildFailed(EngineError):
    """A docker build failed; the message names the failing step and its last lines of output."""


def build_image(
    engine: DockerEngine,
    *,
    context_path: str,
    dockerfile: str,
    tag: str,
    build_args: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    sink: Callable[[str], None] = log.info,
) -> ImageInfo:
    """Build an image from a context folder and tag it.

    :param engine: the Docker engine.
    :param context_path: the build context folder.
    :param dockerfile: the Dockerfile path relative to the context.
    :param tag: the tag to give the image (``repo:tag``).
    :param build_args: ARG values.
    :param labels: labels added to the image.
    :param sink: receives each line of the build log.
    """
    import docker

    step = "(before the first step)"
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    try:
        stream = engine.client.api.build(
            path=context_path,
            dockerfile=dockerfile,
            tag=tag,
            buildargs=dict(build_args or {}),
            labels=dict(labels or {}),
            rm=True,
            forcerm=True,
            decode=True,
        )
        for event in stream:
            if "error" in event:
                detail = event.get("errorDetail", {}).get("message") or event["error"]
                raise BuildFailed(
                    f"Building {tag} failed at {step}: {detail.strip()}\n--- last lines of the build ---\n"
                    + "\n".join(tail)
                )
            text = event.get("stream", "")
            for line in text.splitlines():
                if not line.strip():
                    continue
                match = _STEP.match(line)
                if match:
                    step = f"step {match.group(1)}/{match.group(2)} ({match.group(3)})"
                tail.append(line)
                sink(line)
    except docker.errors.APIError as err:
        raise BuildFailed(f"Building {tag} failed: {err.explanation}. Check context_path and dockerfile") from err
    return engine.ensure_image(tag)
