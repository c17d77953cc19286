"""The artifact store interface: every location is a URI; writes are atomic."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from ml_lifecycle.core.uris import ArtifactUri


@dataclass(frozen=True)
class ObjectInfo:
    """One stored object.

    :param uri: the object's full URI.
    :param relative_key: the object's path below the listed prefix, ``/``-separated (the object's own
        name when the listed URI is the object itself).
    :param size_bytes: its size.
    :param etag: the store's version tag (S3 ETag; for files a digest of size and mtime).
    """

    uri: str
    relative_key: str
    size_bytes: int
    etag: str


class ArtifactStore(Protocol):
    """What every store (file://, s3://) offers; implementations translate SDK errors into ml_lifecycle.errors."""

    def list_objects(self, uri: ArtifactUri) -> list[ObjectInfo]:
        """List every object at or below uri, recursively, sorted by relative_key; [] when there is none.

        :param uri: a prefix (folder) or a single object.
        """
        ...

    def exists(self, uri: ArtifactUri) -> bool:
        """Say whether an object exists at exactly uri.

        :param uri: the object.
        """
        ...

    def read_bytes(self, uri: ArtifactUri) -> bytes:
        """Read a whole (small) object; raises ArtifactNotFound when missing.

        :param uri: the object.
        """
        ...

    def write_bytes(self, uri: ArtifactUri, data: bytes, *, if_absent: bool = False) -> None:
        """Write a whole object atomically; with if_absent, raise ArtifactExists if it exists already.

        :param uri: the object.
        :param data: its content.
        :param if_absent: fail instead of replacing an existing object.
        """
        ...

    def iter_chunks(self, uri: ArtifactUri, chunk_bytes: int = 8 * 1024 * 1024) -> Iterator[bytes]:
        """Stream an object's bytes in bounded memory.

        :param uri: the object.
        :param chunk_bytes: the size of each chunk.
        """
        ...

    def write_chunks(self, uri: ArtifactUri, chunks: Iterable[bytes]) -> None:
        """Write an object from a stream, atomically (a reader never sees part of it), in bounded memory.

        :param uri: the object.
        :param chunks: its content.
        """
        ...

    def download_file(self, uri: ArtifactUri, local_path: str) -> None:
        """Copy one object to a local file (created with its parent folders).

        :param uri: the object.
        :param local_path: the destination file.
        """
        ...

    def download_prefix(self, uri: ArtifactUri, local_dir: str, objects: list[ObjectInfo] | None = None) -> None:
        """Copy objects below uri into local_dir, keeping their relative paths, concurrently where it helps.

        :param uri: the prefix.
        :param local_dir: the destination folder.
        :param objects: the objects to copy (a subset of list_objects(uri)); None copies all.
        """
        ...

    def upload_file(self, local_path: str, uri: ArtifactUri) -> str:
        """Copy a local file to uri atomically and return the stored object's etag.

        :param local_path: the source file.
        :param uri: the destination object.
        """
        ...

    def delete_prefix(self, uri: ArtifactUri) -> int:
        """Delete every object at or below uri and return how many were deleted.

        :param uri: a prefix or object.
        """
        ...

    def local_path(self, uri: ArtifactUri) -> str | None:
        """Return the local path of uri when the store is a local folder (for zero-copy mounts), else None.

        :param uri: any location in this store.
        """
        ...
