"""Push an image through the Docker engine by tag, reporting layer progress, and return its manifest digest."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine
from ml_lifecycle.errors import RegistryError

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 5.0
_DONE = ("Pushed", "Layer already exists", "Mounted from")
MB = 1e6


class PushProgress:
    """Sums the engine's per-layer push events into bytes, percent and rate.

    :param name: ``repository:tag``, for the messages.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.started = time.monotonic()
        self.layers: dict[str, str] = {}
        self.sent: dict[str, int] = {}
        self.sizes: dict[str, int] = {}

    def add(self, event: Mapping[str, object]) -> None:
        """Record one event of the push stream.

        :param event: a decoded event (``status``, ``id``, ``progressDetail``).
        """
        layer, status = event.get("id"), str(event.get("status", ""))
        if not isinstance(layer, str) or not status:
            return
        self.layers[layer] = status
        detail = event.get("progressDetail") or {}
        if isinstance(detail, dict) and detail.get("total"):
            self.sent[layer] = int(detail.get("current") or 0)
            self.sizes[layer] = int(detail["total"])
        if status.startswith("Pushed") and layer in self.sizes:
            self.sent[layer] = self.sizes[layer]

    def line(self) -> str:
        """One progress line: layers done, megabytes sent of known sizes, rate."""
        done = sum(1 for status in self.layers.values() if status.startswith(_DONE))
        sent, total = sum(self.sent.values()), sum(self.sizes.values())
        elapsed = max(time.monotonic() - self.started, 1e-6)
        percent = f" ({100 * sent / total:.0f}%)" if total else ""
        return (
            f"Pushing {self.name}: {done}/{len(self.layers)} layers done, {sent / MB:.1f}/{total / MB:.1f} MB"
            f"{percent}, {sent / MB / elapsed:.1f} MB/s"
        )

    def summary(self, digest: str) -> str:
        """The closing line.

        :param digest: the manifest digest.
        """
        existing = sum(1 for status in self.layers.values() if status.startswith(("Layer already exists", "Mounted")))
        elapsed = time.monotonic() - self.started
        return (
            f"Pushed {self.name} as {digest}: {len(self.layers)} layers ({existing} already in the registry), "
            f"{sum(self.sent.values()) / MB:.1f} MB uploaded in {elapsed:.1f} s"
        )


def push_image(
    engine: DockerEngine,
    *,
    image: str,
    repository: str,
    tag: str,
    auth_config: Mapping[str, str] | None = None,
    sink: Callable[[str], None] = log.info,
) -> str:
    """Tag a local image as ``repository:tag``, push it, and return the manifest digest (``sha256:...``).

    :param engine: the Docker engine holding the image.
    :param image: the local image reference or id.
    :param repository: the full target repository, registry host included.
    :param tag: the tag to push.
    :param auth_config: ``{"username", "password"}`` for registries that need a login, else None.
    :param sink: receives progress lines (every PROGRESS_INTERVAL_S seconds).
    """
    import docker

    progress = PushProgress(f"{repository}:{tag}")
    digest = ""
    try:
        engine.client.images.get(image).tag(repository, tag)
        stream = engine.client.api.push(
            repository, tag, auth_config=dict(auth_config) if auth_config else None, stream=True, decode=True
        )
        last_report = time.monotonic()
        for event in stream:
            if "error" in event:
                raise RegistryError(explain(repository, event.get("errorDetail", {}).get("message") or event["error"]))
            progress.add(event)
            digest = (event.get("aux") or {}).get("Digest", digest)
            if time.monotonic() - last_report >= PROGRESS_INTERVAL_S:
                sink(progress.line())
                last_report = time.monotonic()
    except docker.errors.APIError as err:
        raise RegistryError(explain(repository, err.explanation or str(err))) from err
    if not digest:
        raise RegistryError(f"The push of {repository}:{tag} reported no digest; check the registry's logs")
    sink(progress.summary(digest))
    return digest


def explain(repository: str, text: str) -> str:
    """Say what a push or pull error means and how to fix it.

    :param repository: the target repository.
    :param text: the engine's error text.
    """
    hint = "Check that the registry is running and reachable from the Docker engine"
    lowered = text.lower()
    if "cannot be overwritten because the repository is immutable" in lowered or "tag invalid" in lowered:
        hint = "The tag exists for another image in an immutable repository: push a new tag (the content hash)"
    elif "unauthorized" in lowered or "authentication required" in lowered or "denied" in lowered:
        hint = "The registry refused the credentials: check the connection's login and password (or ECR permissions)"
    elif "connection refused" in lowered or "no such host" in lowered:
        hint = "Start the registry (scripts/bootstrap.sh registry) or fix the registry host"
    elif "http response to https client" in lowered:
        hint = "The registry speaks plain HTTP: add it to the engine's insecure-registries (127.0.0.1 is allowed)"
    return f"Pushing to {repository} failed: {text}. {hint}"
