"""S3Store specifics: prefix semantics, multipart, conditional writes and error translation (moto server)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ml_lifecycle.core.uris import ArtifactUri
from ml_lifecycle.errors import ArtifactExists, ArtifactNotFound, StoreError
from ml_lifecycle.stores import transfer_progress
from ml_lifecycle.stores.s3_store import S3Store

MB = 1024 * 1024


@pytest.fixture
def store(s3_client: Any) -> S3Store:
    """Return an S3Store on the moto server."""
    return S3Store(lambda: s3_client)


def test_key_equal_to_prefix_and_keys_below_it(store: S3Store, s3_client: Any, bucket: str) -> None:
    """s3://b/a lists the key a (as its name) and keys below a/, not ab/...; folder markers are skipped."""
    for key in ("a", "a/y", "a/sub/", "ab/x", "b"):
        s3_client.put_object(Bucket=bucket, Key=key, Body=b"1")
    listed = store.list_objects(ArtifactUri("s3", bucket, "a"))
    assert [(info.relative_key, info.uri) for info in listed] == [
        ("a", f"s3://{bucket}/a"),
        ("y", f"s3://{bucket}/a/y"),
    ]
    whole = store.list_objects(ArtifactUri("s3", bucket, ""))
    assert [info.relative_key for info in whole] == ["a", "a/y", "ab/x", "b"]
    assert store.delete_prefix(f"s3://{bucket}/a") == 3, "the folder marker is deleted too"
    assert [info.relative_key for info in store.list_objects(f"s3://{bucket}")] == ["ab/x", "b"]


def test_list_paginates(store: S3Store, s3_client: Any, bucket: str) -> None:
    """More keys than one page (1000) are all listed, and deleted in batches."""
    for number in range(1005):
        s3_client.put_object(Bucket=bucket, Key=f"p/{number:05d}", Body=b"")
    assert len(store.list_objects(f"s3://{bucket}/p")) == 1005
    assert store.delete_prefix(f"s3://{bucket}/p") == 1005
    assert store.list_objects(f"s3://{bucket}/p") == []


def test_write_chunks_uses_multipart_and_abort_leaves_no_upload(store: S3Store, s3_client: Any, bucket: str) -> None:
    """20 MB go up as three 8 MB-bounded parts; a failed stream aborts its upload."""
    uri = ArtifactUri("s3", bucket, "big.bin")
    store.write_chunks(uri, (b"x" * MB for _ in range(20)))
    assert store.list_objects(uri)[0].etag.endswith("-3")

    def failing() -> Any:
        yield b"y" * (17 * MB)
        raise RuntimeError("producer failed")

    with pytest.raises(RuntimeError):
        store.write_chunks(ArtifactUri("s3", bucket, "other.bin"), failing())
    assert s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert not store.exists(ArtifactUri("s3", bucket, "other.bin"))


def test_moto_honours_if_none_match(s3_client: Any, bucket: str) -> None:
    """moto answers put_object(IfNoneMatch='*') on an existing key with 412 PreconditionFailed, like S3."""
    s3_client.put_object(Bucket=bucket, Key="k", Body=b"1", IfNoneMatch="*")
    with pytest.raises(ClientError) as caught:
        s3_client.put_object(Bucket=bucket, Key="k", Body=b"2", IfNoneMatch="*")
    assert caught.value.response["Error"]["Code"] == "PreconditionFailed"


def test_if_absent_sends_the_condition(store: S3Store, bucket: str) -> None:
    """A 412 from the conditional put becomes ArtifactExists naming the URI."""
    store.write_bytes(f"s3://{bucket}/m.json", b"1", if_absent=True)
    with pytest.raises(ArtifactExists, match=f"s3://{bucket}/m.json"):
        store.write_bytes(f"s3://{bucket}/m.json", b"2", if_absent=True)


@pytest.mark.parametrize(
    "operation",
    [
        "list_objects",
        "read_bytes",
        "write_bytes",
        "write_chunks",
        "upload_file",
        "delete_prefix",
        "iter_chunks",
    ],
)
def test_missing_bucket_is_a_store_error_naming_it(
    store: S3Store, moto_server: str, tmp_path: Path, operation: str
) -> None:
    """Every operation on a bucket that does not exist says which bucket and how to fix it."""
    uri = ArtifactUri("s3", "no-such-bucket-xyz", "k/obj.bin")
    source = tmp_path / "f.bin"
    source.write_bytes(b"data")
    calls = {
        "list_objects": lambda: store.list_objects(uri),
        "read_bytes": lambda: store.read_bytes(uri),
        "write_bytes": lambda: store.write_bytes(uri, b"x"),
        "write_chunks": lambda: store.write_chunks(uri, [b"x" * (9 * MB)]),
        "upload_file": lambda: store.upload_file(str(source), uri),
        "delete_prefix": lambda: store.delete_prefix(uri),
        "iter_chunks": lambda: list(store.iter_chunks(uri)),
    }
    with pytest.raises(StoreError, match="no-such-bucket-xyz") as caught:
        calls[operation]()
    assert "Create the bucket" in str(caught.value) or "NoSuchBucket" in str(caught.value)


def test_head_on_missing_bucket(store: S3Store, moto_server: str, tmp_path: Path) -> None:
    """HEAD answers carry no error code: exists is False and download_file names the bucket."""
    uri = ArtifactUri("s3", "no-such-bucket-xyz", "k")
    assert store.exists(uri) is False
    with pytest.raises(ArtifactNotFound, match="no-such-bucket-xyz"):
        store.download_file(uri, str(tmp_path / "k"))


class _RefusingClient:
    """A stand-in S3 client whose every call fails with one AWS error."""

    def __init__(self, code: str, status: int) -> None:
        """Keep the error to raise.

        :param code: the AWS error code.
        :param status: the HTTP status.
        """
        self._error = {
            "Error": {"Code": code, "Message": "refused"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }

    def __getattr__(self, name: str) -> Any:
        """Return a method that raises the error.

        :param name: the client method.
        """

        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise ClientError(self._error, name)

        return refuse


@pytest.mark.parametrize(
    ("code", "status", "error", "hint"),
    [
        ("AccessDenied", 403, StoreError, "credentials"),
        ("403", 403, StoreError, "credentials"),
        ("InvalidAccessKeyId", 403, StoreError, "access key"),
        ("NoSuchBucket", 404, StoreError, "Create the bucket b1"),
        ("NoSuchKey", 404, ArtifactNotFound, "does not exist"),
        ("PreconditionFailed", 412, ArtifactExists, "exists already"),
        ("InternalError", 500, StoreError, "endpoint_url"),
    ],
)
def test_client_errors_are_translated(code: str, status: int, error: type[Exception], hint: str) -> None:
    """Each AWS error code maps to the matching ml_lifecycle error, with the URI, the code and a fix."""
    store = S3Store(lambda: _RefusingClient(code, status))
    with pytest.raises(error) as caught:
        store.read_bytes("s3://b1/key.bin")
    message = str(caught.value)
    assert "s3://b1/key.bin" in message
    assert hint in message
    if error is StoreError and code != "NoSuchBucket":
        assert code in message


def test_client_is_built_lazily_once(s3_client: Any) -> None:
    """The factory runs on first use only, and once."""
    calls: list[int] = []

    def factory() -> Any:
        calls.append(1)
        return s3_client

    store = S3Store(factory)
    assert calls == []
    assert store.client is store.client
    assert calls == [1]


def test_download_prefix_logs_progress(
    store: S3Store,
    bucket: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """download_prefix logs bytes done, percent and MB/s (here on every callback)."""
    monkeypatch.setattr(transfer_progress, "PROGRESS_INTERVAL_S", 0.0)
    for number in range(3):
        store.write_bytes(f"s3://{bucket}/m/{number}.bin", b"z" * MB)
    with caplog.at_level(logging.INFO, logger=transfer_progress.__name__):
        store.download_prefix(f"s3://{bucket}/m", str(tmp_path / "d"))
    messages = [record.getMessage() for record in caplog.records if record.name == transfer_progress.__name__]
    assert messages and all("MB/s" in message for message in messages)
    assert "(100%)" in messages[-1]
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["0.bin", "1.bin", "2.bin"]


def test_download_prefix_refuses_keys_escaping_the_folder(
    store: S3Store, s3_client: Any, bucket: str, tmp_path: Path
) -> None:
    """A key with '..' segments cannot write outside local_dir."""
    s3_client.put_object(Bucket=bucket, Key="p/../../evil", Body=b"1")
    with pytest.raises(StoreError, match=r"\.\."):
        store.download_prefix(f"s3://{bucket}/p", str(tmp_path / "d"))
    assert not (tmp_path / "evil").exists()


@pytest.mark.parametrize("uri", ["file:///tmp/x", "s3://bucket-only"])
def test_refuses_foreign_or_keyless_uris(store: S3Store, uri: str) -> None:
    """Object operations need an s3:// URI with a key."""
    with pytest.raises(StoreError, match="s3://"):
        store.read_bytes(uri)
