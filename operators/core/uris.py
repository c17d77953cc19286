"""Artifact locations are URIs: ``s3://bucket/key`` or ``file:///absolute/path``."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from ml_lifecycle.core.errors import SpecError

SUPPORTED_SCHEMES = ("s3", "file")


@dataclass(frozen=True)
class ArtifactUri:
    """A parsed artifact location.

    :param scheme: ``s3`` or ``file``.
    :param bucket: the S3 bucket; empty for ``file``.
    :param path: the S3 key, or the absolute local path for ``file``; no trailing slash.
    """

    scheme: str
    bucket: str
    path: str

    def __str__(self) -> str:
        """Render the URI back in canonical form."""
        if self.scheme == "s3":
            return f"s3://{self.bucket}/{self.path}" if self.path else f"s3://{self.bucket}"
        return f"file://{self.path}"

    def join(self, *parts: str) -> ArtifactUri:
        """Return the URI of a location below this one.

        :param parts: path segments, joined with ``/``.
        """
        tail = "/".join(p.strip("/") for p in parts if p.strip("/"))
        if not tail:
            return self
        base = self.path.rstrip("/")
        path = f"{base}/{tail}" if base else tail
        if self.scheme == "file" and not path.startswith("/"):
            path = "/" + path
        return ArtifactUri(self.scheme, self.bucket, path)

    @property
    def name(self) -> str:
        """The last path segment."""
        return self.path.rsplit("/", 1)[-1]


def parse_uri(value: str, parameter: str = "uri") -> ArtifactUri:
    """Parse and validate an artifact URI.

    :param value: ``s3://bucket[/key]`` or ``file:///abs/path``; a bare absolute path is taken as ``file://``.
    :param parameter: the parameter name used in error messages.
    """
    if not isinstance(value, str) or not value.strip():
        raise SpecError(parameter, f"{value!r} is not a URI", "Write s3://bucket/prefix or file:///abs/path")
    text = value.strip()
    if text.startswith("/"):
        text = "file://" + text
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in SUPPORTED_SCHEMES:
        raise SpecError(
            parameter,
            f"{value!r} has the scheme {parts.scheme or '(none)'!r}, which no artifact store handles",
            "Write s3://bucket/prefix or file:///abs/path",
        )
    if scheme == "s3":
        # S3 keys are taken literally: '#', '?' and '%' are valid key characters, not URL syntax.
        bucket, _, key = text[len("s3://") :].partition("/")
        if not bucket:
            raise SpecError(parameter, f"{value!r} names no bucket", "Write s3://bucket/prefix")
        return ArtifactUri("s3", bucket, key.strip("/"))
    if parts.netloc not in ("", "localhost"):
        raise SpecError(
            parameter,
            f"{value!r} names the host {parts.netloc!r}; file URIs are local",
            "Write file:///abs/path (three slashes)",
        )
    path = unquote(parts.path).rstrip("/") or "/"
    if not path.startswith("/"):
        raise SpecError(parameter, f"{value!r} is a relative path", "Write file:///abs/path")
    return ArtifactUri("file", "", path)
