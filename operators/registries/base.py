"""What every registry answers: which manifest a tag or digest names, and how to log in for a push."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class RemoteImage:
    """A manifest that a registry holds under a tag or digest.

    :param digest: the manifest digest (``sha256:...``), what ``repo@digest`` pins.
    :param config_digest: the image config digest, equal to the Docker engine's image id; "" for a manifest list.
    """

    digest: str
    config_digest: str


class Registry(Protocol):
    """An image registry: Amazon ECR or any OCI registry."""

    def repository_uri(self, repository: str) -> str:
        """Return ``host/repository``, creating the repository first where the registry needs that.

        :param repository: the repository path, e.g. ``ml/linear``.
        """
        ...

    def lookup(self, repository: str, reference: str) -> RemoteImage | None:
        """Return the manifest a tag or digest names, or None when the registry has none.

        :param repository: the repository path.
        :param reference: a tag or ``sha256:...`` digest.
        """
        ...

    def confirm(self, repository: str, digest: str, tag: str) -> None:
        """Raise RegistryError unless the registry holds the digest under the tag (checked after a push).

        :param repository: the repository path.
        :param digest: the pushed manifest digest.
        :param tag: the tag pushed with it.
        """
        ...

    def tags_are_immutable(self, repository: str) -> bool:
        """Say whether a pushed tag can never point at another image.

        :param repository: the repository path.
        """
        ...

    def auth_config(self) -> Mapping[str, str] | None:
        """Return the docker SDK auth_config for push and pull, or None when the registry needs no login."""
        ...
