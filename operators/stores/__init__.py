"""Artifact stores: store_for(uri) returns the store serving a URI's scheme (file:// or s3://)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ml_lifecycle.core.uris import ArtifactUri, parse_uri
from ml_lifecycle.stores.base import ArtifactStore, ObjectInfo

__all__ = [
    "ArtifactStore",
    "FileStore",
    "ObjectInfo",
    "S3Store",
    "detached_store_factory",
    "store_factory",
    "store_for",
]

StoreFor = Callable[[ArtifactUri], ArtifactStore]


def store_for(uri: ArtifactUri | str, *, s3_client_factory: Callable[[], Any] | None = None) -> ArtifactStore:
    """Return the store serving uri's scheme.

    :param uri: the location, parsed or as text.
    :param s3_client_factory: builds the boto3 S3 client for s3:// URIs (e.g.
        ml_lifecycle.aws_clients.client_factory("s3", aws_conn_id)); None uses boto3's default chain.
    """
    parsed = parse_uri(uri) if isinstance(uri, str) else uri
    if parsed.scheme == "file":
        from ml_lifecycle.stores.file_store import FileStore

        return FileStore()
    from ml_lifecycle.stores.s3_store import S3Store

    return S3Store(s3_client_factory or _default_s3_client)


def store_factory(aws_conn_id: str | None) -> StoreFor:
    """Return store_for bound to an Airflow AWS connection (used only for s3:// URIs).

    :param aws_conn_id: the Airflow AWS connection id, or None for boto3's default chain.
    """
    from ml_lifecycle.aws_clients import client_factory

    s3 = client_factory("s3", aws_conn_id)

    def factory(uri: ArtifactUri) -> ArtifactStore:
        return store_for(uri, s3_client_factory=s3)

    return factory


def detached_store_factory(aws_conn_id: str | None, uris: list[str]) -> StoreFor:
    """Return store_for usable in a detached agent: the AWS connection is resolved now, only if an s3:// URI needs it.

    :param aws_conn_id: the Airflow AWS connection id, or None for boto3's default chain.
    :param uris: every location the job touches.
    """
    from ml_lifecycle.aws_clients import detached_client_factory

    s3 = detached_client_factory("s3", aws_conn_id) if any(u.startswith("s3://") for u in uris) else None

    def factory(uri: ArtifactUri) -> ArtifactStore:
        return store_for(uri, s3_client_factory=s3)

    return factory


def __getattr__(name: str) -> Any:
    """Load the store classes on first use, so that importing this package stays cheap at DAG parse time.

    :param name: the attribute asked for.
    """
    if name == "FileStore":
        from ml_lifecycle.stores.file_store import FileStore

        return FileStore
    if name == "S3Store":
        from ml_lifecycle.stores.s3_store import S3Store

        return S3Store
    raise AttributeError(f"module 'ml_lifecycle.stores' has no attribute {name!r}")


def _default_s3_client() -> Any:
    """Build an S3 client from boto3's default chain (env, profile, instance role; AWS_ENDPOINT_URL_S3)."""
    import boto3

    from ml_lifecycle.aws_clients import with_shared_loader

    return with_shared_loader(boto3.session.Session()).client("s3")
