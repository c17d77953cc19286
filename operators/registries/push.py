"""Push an image to a registry by tag and hand it on by digest."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from ml_lifecycle.compute.docker_engine import DockerEngine
from ml_lifecycle.errors import RegistryError

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 5.0


def push_image(
    engine: DockerEngine,
    *,
    image: str,
    repository: str,
    tag: str,
    auth_config: Mapping[str, str] | None = None,
    sink: Callable[[str], None] = log.info,
) -> str:
    """Tag a local image as ``repository:tag``, push it, and return ``repository@sha256:...``.

    :param engine: the Docker engine holding the image.
    :param image: the local image reference or id.
    :param repository: the full target repository, registry host included.
    :param tag: the tag to push.
    :param auth_config: ``{"username", "password"}`` for registries that need a login, else None.
    :param sink: receives progress lines.
    """
    import docker

    try:
        engine.client.images.get(image).tag(repository, tag)
        stream = engine.client.api.push(
            repository, tag, auth_config=dict(auth_config) if auth_config else None, stream=True, decode=True
        )
        digest = ""
        layers: dict[str, str] = {}
        last_report = time.monotonic()
        for event in stream:
            if "error" in event:
                raise RegistryError(_explain(repository, event.get("errorDetail", {}).get("message") or event["error"]))
            if "id" in event and "status" in event:
                layers[event["id"]] = event["status"]
            digest = (event.get("aux") or {}).get("Digest", digest)
            if time.monotonic() - last_report >= PROGRESS_INTERVAL_S:
                done = sum(1 for s in layers.values() if s in ("Pushed", "Layer already exists"))
                sink(f"Pushing {repository}:{tag}: {done}/{len(layers)} layers done")
                last_report = time.monotonic()
    except docker.errors.APIError as err:
        raise RegistryError(_explain(repository, err.explanation or str(err))) from err
    if not digest:
        raise RegistryError(f"The push of {repository}:{tag} reported no digest; check the registry's logs")
    already = sum(1 for s in layers.values() if s == "Layer already exists")
    sink(f"Pushed {repository}:{tag} as {digest} ({len(layers)} layers, {already} already in the registry)")
    return f"{repository}@{digest}"


def _explain(repository: str, text: str) -> str:
    """Say what a push error means and how to fix it.

    :param repository: the target repository.
    :param text: the engine's error text.
    """
    hint = "Check that the registry is running and reachable from the Docker engine"
    lowered = text.lower()
    if "unauthorized" in lowered or "authentication required" in lowered or "denied" in lowered:
        hint = "The registry refused the credentials: check the connection's login and password (or ECR permissions)"
    elif "connection refused" in lowered or "no such host" in lowered:
        hint = "Start the registry (scripts/bootstrap.sh registry) or fix the registry host"
    elif "http response to https client" in lowered:
        hint = "The registry speaks plain HTTP: add it to the engine's insecure-registries (127.0.0.1 is allowed)"
    return f"Pushing to {repository} failed: {text}. {hint}"
