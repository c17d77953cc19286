"""The push recipe: find what the registry holds under the tag, push only when it is another image, confirm."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine
from ml_lifecycle.compute.local.images.push import explain, push_image
from ml_lifecycle.errors import RegistryError
from ml_lifecycle.registries.base import Registry, RemoteImage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Published:
    """An image in a registry, handed on by digest.

    :param image_uri: ``host/repository@sha256:...``.
    :param repository: ``host/repository``.
    :param tag: the tag it was pushed under.
    :param digest: the manifest digest.
    :param pushed: False when the registry held this image under the tag already and nothing was sent.
    """

    image_uri: str
    repository: str
    tag: str
    digest: str
    pushed: bool


def publish(
    engine: DockerEngine,
    registry: Registry,
    *,
    image: str,
    repository: str,
    tag: str,
    sink: Callable[[str], None] = log.info,
) -> Published:
    """Push an image under a tag unless the registry holds it there already, and confirm the digest.

    :param engine: the Docker engine holding (or able to pull) the image.
    :param registry: the target registry.
    :param image: a local image reference or id, or a registry reference the engine can pull.
    :param repository: the repository path in the target registry, e.g. ``ml/linear``.
    :param tag: the tag to push.
    :param sink: receives progress and decisions.
    """
    target = registry.repository_uri(repository)
    existing = registry.lookup(repository, tag)
    same = _in_repository(registry, target, repository, image)
    if existing is not None and same is not None and existing.digest == same.digest:
        sink(f"{target}:{tag} names {image} already ({existing.digest}): nothing to push")
        return Published(f"{target}@{existing.digest}", target, tag, existing.digest, pushed=False)
    image_id = local_image_id(engine, image, registry if image.startswith(target.split("/")[0] + "/") else None, sink)
    if existing is not None and existing.config_digest == image_id:
        sink(f"{target}:{tag} holds this image already ({existing.digest}): nothing to push")
        return Published(f"{target}@{existing.digest}", target, tag, existing.digest, pushed=False)
    if existing is not None and registry.tags_are_immutable(repository):
        raise RegistryError(
            f"The tag {tag!r} of {target} is immutable and names another image ({existing.digest}, config "
            f"{existing.config_digest or 'unknown'}; this image is {image_id}). Push under a new tag (BuildImage's "
            "content-hash tag changes with the image) or delete the old image from the repository"
        )
    if existing is not None:
        sink(f"Moving the tag {tag!r} of {target} from {existing.digest} to this image")
    digest = push_image(
        engine, image=image_id, repository=target, tag=tag, auth_config=registry.auth_config(), sink=sink
    )
    registry.confirm(repository, digest, tag)
    return Published(f"{target}@{digest}", target, tag, digest, pushed=True)


def _in_repository(registry: Registry, target: str, repository: str, image: str) -> RemoteImage | None:
    """When the image is a reference into the target repository itself, return what the registry holds for it.

    :param registry: the target registry.
    :param target: ``host/repository``.
    :param repository: the repository path.
    :param image: the image reference.
    """
    for separator in ("@", ":"):
        if image.startswith(target + separator):
            return registry.lookup(repository, image[len(target) + 1 :])
    return None


def local_image_id(
    engine: DockerEngine, image: str, registry: Registry | None, sink: Callable[[str], None] = log.info
) -> str:
    """Return the engine's id of the image, pulling it first when the engine does not have it.

    :param engine: the Docker engine.
    :param image: a local reference or id, or a registry reference.
    :param registry: the registry the image comes from, whose login the pull uses, or None for no login.
    :param sink: receives a line when a pull happens.
    """
    import docker

    found = engine.find_image(image)
    if found is not None:
        return found.image_id
    sink(f"{image} is not on the engine; pulling it")
    try:
        return engine.client.images.pull(image, auth_config=registry.auth_config() if registry else None).id
    except docker.errors.APIError as err:
        raise RegistryError(
            explain(image, err.explanation or str(err)) + ". Build the image first, or give image= a reference the "
            "engine can pull"
        ) from err
