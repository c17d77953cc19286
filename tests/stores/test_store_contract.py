"""Behaviour every ArtifactStore shares, run against FileStore and S3Store (moto) alike."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ml_lifecycle.core.uris import ArtifactUri
from ml_lifecycle.errors import ArtifactExists, ArtifactNotFound

if TYPE_CHECKING:
    from conftest import StoreCase

MB = 1024 * 1024
TREE = {
    "model.tar.gz": b"model",
    "code/train.py": b"print('train')\n",
    "code/lib/util.py": b"x = 1\n",
    "data/part-0.csv": b"a,b\n1,2\n",
}


def _populate(case: StoreCase, files: dict[str, bytes]) -> None:
    """Write files below the case's root.

    :param case: the store under test.
    :param files: relative key -> content.
    """
    for key, data in files.items():
        case.store.write_bytes(case.root.join(key), data)


@pytest.mark.parametrize(
    ("files", "listed", "expected_keys"),
    [
        pytest.param(TREE, "", sorted(TREE), id="recursive-sorted"),
        pytest.param(TREE, "code", ["lib/util.py", "train.py"], id="nested-prefix"),
        pytest.param(TREE, "code/lib/util.py", ["util.py"], id="single-object"),
        pytest.param(TREE, "missing", [], id="missing-prefix"),
        pytest.param({"ab/x": b"1", "a/y": b"2", "a-b": b"3"}, "a", ["y"], id="prefix-not-substring"),
        pytest.param({}, "", [], id="empty"),
    ],
)
def test_list_objects(case: StoreCase, files: dict[str, bytes], listed: str, expected_keys: list[str]) -> None:
    """Listing is recursive, sorted, relative and limited to the key itself and keys below key/."""
    _populate(case, files)
    infos = case.store.list_objects(case.root.join(listed))
    assert [info.relative_key for info in infos] == expected_keys
    for info in infos:
        assert info.etag and '"' not in info.etag
        assert case.store.read_bytes(_uri_of(case, info.uri)) == files[_key_below_root(case, info.uri)]
        assert info.size_bytes == len(files[_key_below_root(case, info.uri)])


def _uri_of(case: StoreCase, text: str) -> ArtifactUri:
    """Turn a listed object's URI text back into an ArtifactUri below the case's root.

    :param case: the store under test.
    :param text: ObjectInfo.uri.
    """
    return case.root.join(_key_below_root(case, text))


def _key_below_root(case: StoreCase, text: str) -> str:
    """Return a listed object's key relative to the case's root.

    :param case: the store under test.
    :param text: ObjectInfo.uri.
    """
    head = f"{case.root}/"
    assert text.startswith(head), text
    return text[len(head) :]


@pytest.mark.parametrize(("key", "present"), [("model.tar.gz", True), ("code", False), ("nope", False)])
def test_exists(case: StoreCase, key: str, present: bool) -> None:
    """exists is true for an object only, not for a prefix or a missing key."""
    _populate(case, TREE)
    assert case.store.exists(case.root.join(key)) is present


@pytest.mark.parametrize("data", [b"", b"hello", os.urandom(100_000)], ids=["empty", "small", "100kB"])
def test_write_then_read_bytes(case: StoreCase, data: bytes) -> None:
    """What write_bytes stores, read_bytes and iter_chunks return; a second write replaces it."""
    uri = case.root.join("a/b/blob.bin")
    case.store.write_bytes(uri, b"old")
    case.store.write_bytes(uri, data)
    assert case.store.read_bytes(uri) == data
    assert b"".join(case.store.iter_chunks(uri, chunk_bytes=4096)) == data


def test_if_absent_refuses_to_replace(case: StoreCase) -> None:
    """write_bytes(if_absent=True) creates a missing object and refuses an existing one."""
    uri = case.root.join("marker.json")
    case.store.write_bytes(uri, b"first", if_absent=True)
    with pytest.raises(ArtifactExists, match=r"marker\.json"):
        case.store.write_bytes(uri, b"second", if_absent=True)
    assert case.store.read_bytes(uri) == b"first"


def _stream(total_bytes: int, chunk_bytes: int, fail_after_bytes: int | None = None) -> Iterator[bytes]:
    """Yield total_bytes of a deterministic pattern, optionally raising part-way.

    :param total_bytes: how much to yield.
    :param chunk_bytes: the size of each chunk.
    :param fail_after_bytes: raise RuntimeError once this much was yielded.
    """
    sent_bytes = 0
    while sent_bytes < total_bytes:
        if fail_after_bytes is not None and sent_bytes >= fail_after_bytes:
            raise RuntimeError("the producer failed")
        size = min(chunk_bytes, total_bytes - sent_bytes)
        yield bytes([sent_bytes // chunk_bytes % 251]) * size
        sent_bytes += size


@pytest.mark.parametrize("total_bytes", [20 * MB, 1000], ids=["20MB-multipart", "small-single-put"])
def test_write_chunks_round_trip(case: StoreCase, total_bytes: int) -> None:
    """A streamed write reads back byte for byte."""
    uri = case.root.join("big.bin")
    case.store.write_chunks(uri, _stream(total_bytes, chunk_bytes=MB))
    assert b"".join(case.store.iter_chunks(uri, chunk_bytes=MB)) == b"".join(_stream(total_bytes, MB))
    assert [info.size_bytes for info in case.store.list_objects(uri)] == [total_bytes]


@pytest.mark.parametrize("fail_after_bytes", [12 * MB, 0], ids=["after-a-part", "before-anything"])
def test_aborted_write_chunks_leaves_nothing(case: StoreCase, fail_after_bytes: int) -> None:
    """A stream that fails mid-way leaves no object (and no temp file) behind."""
    uri = case.root.join("big.bin")
    with pytest.raises(RuntimeError, match="producer failed"):
        case.store.write_chunks(uri, _stream(20 * MB, MB, fail_after_bytes=fail_after_bytes))
    assert not case.store.exists(uri)
    assert case.store.list_objects(case.root) == []
    if case.kind == "file":
        assert not [p for p in Path(case.root.path).rglob("*") if p.is_file()]


def test_aborted_write_chunks_keeps_the_old_object(case: StoreCase) -> None:
    """A failed rewrite leaves the previous version intact."""
    uri = case.root.join("big.bin")
    case.store.write_bytes(uri, b"previous")
    with pytest.raises(RuntimeError):
        case.store.write_chunks(uri, _stream(20 * MB, MB, fail_after_bytes=9 * MB))
    assert case.store.read_bytes(uri) == b"previous"


@pytest.mark.parametrize(
    ("listed", "subset", "expected"),
    [
        pytest.param("", None, TREE, id="all"),
        pytest.param("code", None, {"train.py": TREE["code/train.py"], "lib/util.py": TREE["code/lib/util.py"]}),
        pytest.param("", ["data/part-0.csv"], {"data/part-0.csv": TREE["data/part-0.csv"]}, id="subset"),
        pytest.param("model.tar.gz", None, {"model.tar.gz": TREE["model.tar.gz"]}, id="single-object"),
        pytest.param("missing", None, {}, id="missing"),
    ],
)
def test_download_prefix_keeps_relative_paths(
    case: StoreCase, tmp_path: Path, listed: str, subset: list[str] | None, expected: dict[str, bytes]
) -> None:
    """download_prefix recreates the relative layout (of all, or of a chosen subset)."""
    _populate(case, TREE)
    uri = case.root.join(listed)
    objects = None
    if subset is not None:
        objects = [info for info in case.store.list_objects(uri) if info.relative_key in subset]
    destination = tmp_path / "download"
    case.store.download_prefix(uri, str(destination), objects)
    got = {p.relative_to(destination).as_posix(): p.read_bytes() for p in destination.rglob("*") if p.is_file()}
    assert got == expected


def test_download_file(case: StoreCase, tmp_path: Path) -> None:
    """download_file creates the parent folders and copies the bytes."""
    _populate(case, TREE)
    destination = tmp_path / "deep" / "er" / "train.py"
    case.store.download_file(case.root.join("code/train.py"), str(destination))
    assert destination.read_bytes() == TREE["code/train.py"]


@pytest.mark.parametrize("size_bytes", [10, 17 * MB], ids=["small", "17MB-multipart"])
def test_upload_file(case: StoreCase, tmp_path: Path, size_bytes: int) -> None:
    """upload_file stores the file and returns the etag list_objects reports."""
    source = tmp_path / "local.bin"
    source.write_bytes(os.urandom(size_bytes))
    uri = case.root.join("up/local.bin")
    etag = case.store.upload_file(str(source), uri)
    assert case.store.read_bytes(uri) == source.read_bytes()
    assert [info.etag for info in case.store.list_objects(uri)] == [etag]


@pytest.mark.parametrize(
    ("deleted", "count", "left"),
    [
        pytest.param("code", 2, ["data/part-0.csv", "model.tar.gz"], id="prefix"),
        pytest.param("model.tar.gz", 1, ["code/lib/util.py", "code/train.py", "data/part-0.csv"], id="object"),
        pytest.param("", 4, [], id="everything"),
        pytest.param("missing", 0, sorted(TREE), id="missing"),
    ],
)
def test_delete_prefix(case: StoreCase, deleted: str, count: int, left: list[str]) -> None:
    """delete_prefix removes the object or everything below the prefix and counts it."""
    _populate(case, TREE)
    assert case.store.delete_prefix(case.root.join(deleted)) == count
    assert [info.relative_key for info in case.store.list_objects(case.root)] == left
    if case.kind == "file" and deleted == "code":
        assert not Path(case.root.path, "code").exists(), "empty folders are removed too"


@pytest.mark.parametrize("operation", ["read_bytes", "iter_chunks", "download_file"])
def test_missing_object_raises_artifact_not_found(case: StoreCase, tmp_path: Path, operation: str) -> None:
    """Reading a missing object raises ArtifactNotFound naming the URI."""
    uri = case.root.join("no/such/object.bin")
    with pytest.raises(ArtifactNotFound, match=r"object\.bin"):
        if operation == "read_bytes":
            case.store.read_bytes(uri)
        elif operation == "iter_chunks":
            list(case.store.iter_chunks(uri))
        else:
            case.store.download_file(uri, str(tmp_path / "x"))


def test_local_path(case: StoreCase) -> None:
    """Only the file store has local paths."""
    expected = case.root.path if case.kind == "file" else None
    assert case.store.local_path(case.root) == expected
