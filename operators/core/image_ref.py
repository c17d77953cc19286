"""Validate and take apart container image references (``host/repo:tag`` or ``repo@sha256:...``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ml_lifecycle.core.errors import SpecError

# The grammar of github.com/distribution/reference, restricted to what registries accept.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?)"
_REFERENCE = re.compile(
    rf"^(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_COMPONENT}(?:/{_COMPONENT})*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)


@dataclass(frozen=True)
class ImageRef:
    """A parsed image reference.

    :param registry: the registry host (and port), or empty for the engine's default.
    :param repository: the repository path, e.g. ``team/model``.
    :param tag: the tag, or empty.
    :param digest: ``sha256:...``, or empty.
    """

    registry: str
    repository: str
    tag: str
    digest: str

    @property
    def name(self) -> str:
        """``registry/repository`` (the repository alone when there is no registry)."""
        return f"{self.registry}/{self.repository}" if self.registry else self.repository

    def __str__(self) -> str:
        """Render the reference, digest preferred over tag."""
        if self.digest:
            return f"{self.name}@{self.digest}"
        return f"{self.name}:{self.tag or 'latest'}"


def parse_image_ref(value: str, parameter: str = "image_uri") -> ImageRef:
    """Parse an image reference, or say what a valid one looks like.

    :param value: the reference as a user writes it.
    :param parameter: the parameter name used in error messages.
    """
    match = _REFERENCE.match(value.strip()) if isinstance(value, str) else None
    if not match:
        raise SpecError(
            parameter,
            f"{value!r} is not a valid image reference",
            "Write repository[:tag] or registry.host:port/repository[:tag] or repository@sha256:<64 hex>, "
            "lower-case repository names",
        )
    domain = match.group("domain") or ""
    path = match.group("path")
    # "team/model" has no registry; a first component with a dot, a port or "localhost" is a registry.
    if domain and not ("." in domain or ":" in domain or domain == "localhost"):
        path = f"{domain}/{path}"
        domain = ""
    if path != path.lower():
        raise SpecError(parameter, f"{value!r} has an upper-case repository", "Use lower case repository names")
    return ImageRef(domain, path, match.group("tag") or "", match.group("digest") or "")


def validate_repository(value: str, parameter: str = "repository") -> str:
    """Check a repository name (no tag, no digest) and return it.

    :param value: e.g. ``ml/linear`` or ``127.0.0.1:5000/ml/linear``.
    :param parameter: the parameter name used in error messages.
    """
    ref = parse_image_ref(value, parameter)
    if ref.tag or ref.digest:
        raise SpecError(parameter, f"{value!r} carries a tag or digest", "Give the repository alone; pass tag=")
    return value.strip()
