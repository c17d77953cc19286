"""s3:// URIs and keys: bucket and key of a URI, keys relative to a prefix, and where a listed object lands locally."""

from __future__ import annotations

from pathlib import Path

from ml_lifecycle.core.uris import ArtifactUri, parse_uri
from ml_lifecycle.errors import StoreError
from ml_lifecycle.stores.base import ObjectInfo


def split_uri(uri: ArtifactUri | str, *, need_key: bool = False) -> tuple[str, str]:
    """Return (bucket, key) of an s3:// URI, refusing other schemes.

    :param uri: the location, parsed or as text.
    :param need_key: refuse a URI naming only a bucket (object operations need a key).
    """
    parsed = parse_uri(uri) if isinstance(uri, str) else uri
    if parsed.scheme != "s3":
        raise StoreError(
            f"S3Store cannot handle {parsed}: it only serves s3:// URIs. "
            "Get the store with ml_lifecycle.stores.store_for(uri)"
        )
    if need_key and not parsed.path:
        raise StoreError(f"{parsed} names a bucket, not an object. Write s3://{parsed.bucket}/key")
    return parsed.bucket, parsed.path


def relative_key(key: str, prefix: str) -> str:
    """Return a listed key's path below prefix (its own name when it is the prefix itself).

    :param key: the object's key.
    :param prefix: the listed prefix, without a trailing slash ("" for the whole bucket).
    """
    if key == prefix:
        return key.rsplit("/", 1)[-1]
    return key[len(prefix) + 1 :] if prefix else key


def key_of(info: ObjectInfo, bucket: str) -> str:
    """Return the key of a listed object (its URI is not percent-encoded, so it is not re-parsed).

    :param info: a result of list_objects.
    :param bucket: the bucket it must be in.
    """
    head = f"s3://{bucket}/"
    if not info.uri.startswith(head):
        raise StoreError(f"{info.uri} is not in the bucket {bucket}. Pass objects listed below the same URI")
    return info.uri[len(head) :]


def destination(root: Path, info: ObjectInfo) -> Path:
    """Return where a listed object goes below root, refusing keys that climb out of it.

    :param root: the resolved destination folder.
    :param info: the object.
    """
    destination = (root / info.relative_key).resolve()
    if not destination.is_relative_to(root):
        raise StoreError(
            f"{info.uri} has the relative key {info.relative_key!r}, which points outside {root}. "
            "Rename the object so its key has no '..' segments"
        )
    return destination
