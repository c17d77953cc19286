"""Fixtures for the store tests: a real moto S3 server subprocess and one case per store kind."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import moto

from ml_lifecycle.core.uris import ArtifactUri
from ml_lifecycle.stores import ArtifactStore, FileStore, S3Store

moto_server = moto.moto_server  # the session's moto server, shared with the other test folders


@pytest.fixture
def s3_client(moto_server: str) -> Any:
    """Return a plain boto3 S3 client on the moto server."""
    import boto3

    return boto3.session.Session().client(
        "s3",
        endpoint_url=moto_server,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def bucket(s3_client: Any) -> str:
    """Create a fresh, empty bucket and return its name."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name)
    return name


@dataclass(frozen=True)
class StoreCase:
    """A store under test and the (empty) root below which a test may write.

    :param kind: ``file`` or ``s3``.
    :param store: the store.
    :param root: an empty location in it.
    """

    kind: str
    store: ArtifactStore
    root: ArtifactUri


def _file_case(request: pytest.FixtureRequest, tmp_path: Path) -> StoreCase:
    """Build a FileStore case on tmp_path.

    :param request: the fixture request (unused; same signature as the S3 builder).
    :param tmp_path: the test's temp folder.
    """
    return StoreCase("file", FileStore(), ArtifactUri("file", "", str(tmp_path / "store")))


def _s3_case(request: pytest.FixtureRequest, tmp_path: Path) -> StoreCase:
    """Build an S3Store case on a fresh moto bucket.

    :param request: the fixture request, to start moto only for S3 cases.
    :param tmp_path: the test's temp folder (unused).
    """
    client = request.getfixturevalue("s3_client")
    name = request.getfixturevalue("bucket")
    return StoreCase("s3", S3Store(lambda: client), ArtifactUri("s3", name, "store"))


STORE_BUILDERS: dict[str, Callable[[pytest.FixtureRequest, Path], StoreCase]] = {
    "file": _file_case,
    "s3": _s3_case,
}


@pytest.fixture(params=sorted(STORE_BUILDERS))
def case(request: pytest.FixtureRequest, tmp_path: Path) -> StoreCase:
    """Yield each store kind in turn (FileStore on tmp_path, S3Store on a fresh moto bucket)."""
    return STORE_BUILDERS[request.param](request, tmp_path)
