"""store_for picks the store by scheme, and importing the stores does not import boto3."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from ml_lifecycle.core.uris import parse_uri
from ml_lifecycle.stores import FileStore, S3Store, store_for


@pytest.mark.parametrize(
    ("uri", "kind"),
    [
        ("file:///tmp/a", FileStore),
        ("/tmp/a", FileStore),
        ("s3://b/k", S3Store),
        (parse_uri("s3://b"), S3Store),
    ],
)
def test_store_for_picks_by_scheme(uri: Any, kind: type) -> None:
    """file:// (or a bare path) gets a FileStore, s3:// an S3Store."""
    assert isinstance(store_for(uri), kind)


def test_store_for_passes_the_s3_client_factory_lazily() -> None:
    """The given factory is used, and only when the store first needs a client."""
    sentinel = object()
    calls: list[int] = []

    def factory() -> Any:
        calls.append(1)
        return sentinel

    store = store_for("s3://b/k", s3_client_factory=factory)
    assert isinstance(store, S3Store) and calls == []
    assert store.client is sentinel and calls == [1]


def test_importing_stores_does_not_import_boto3() -> None:
    """boto3/botocore (and Airflow) load only when an S3 client is needed."""
    code = (
        "import sys, ml_lifecycle.stores, ml_lifecycle.aws_clients; "
        "print(sorted(m for m in ('boto3', 'botocore', 'airflow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
