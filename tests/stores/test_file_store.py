"""FileStore specifics: temp files, etags, race-safe if_absent, permissions and error messages."""

from __future__ import annotations

import errno
import os
import stat
import threading
from pathlib import Path

import pytest

from ml_lifecycle.core.uris import ArtifactUri
from ml_lifecycle.errors import ArtifactExists, StoreError
from ml_lifecycle.stores import file_store
from ml_lifecycle.stores.file_store import FileStore


def _uri(path: Path) -> ArtifactUri:
    """Return the file:// URI of path.

    :param path: a local path.
    """
    return ArtifactUri("file", "", str(path))


def test_temp_files_are_invisible_and_kept_by_delete(tmp_path: Path) -> None:
    """In-flight temp files are neither listed nor deleted (their writer still owns them)."""
    store = FileStore()
    store.write_bytes(_uri(tmp_path / "d/a.bin"), b"a")
    (tmp_path / "d" / ".tmp-inflight").write_bytes(b"partial")
    assert [info.relative_key for info in store.list_objects(_uri(tmp_path / "d"))] == ["a.bin"]
    assert store.delete_prefix(_uri(tmp_path / "d")) == 1
    assert [p.name for p in (tmp_path / "d").iterdir()] == [".tmp-inflight"]


def test_etag_is_a_hex_digest_that_changes_with_the_content(tmp_path: Path) -> None:
    """The etag is hex and follows size and mtime."""
    store = FileStore()
    uri = _uri(tmp_path / "f.bin")
    first = store.upload_file(str(_local(tmp_path, b"one")), uri)
    assert int(first, 16) >= 0 and first == store.list_objects(uri)[0].etag
    store.write_bytes(uri, b"three")
    assert store.list_objects(uri)[0].etag != first


def _local(tmp_path: Path, data: bytes) -> Path:
    """Write a local source file.

    :param tmp_path: the folder.
    :param data: its content.
    """
    path = tmp_path / "source.bin"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("hard_links", [True, False], ids=["os.link", "O_EXCL-fallback"])
def test_if_absent_is_race_safe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hard_links: bool) -> None:
    """Of many concurrent if_absent writers exactly one wins, and its content is what stays."""
    if not hard_links:

        def no_link(source: object, target: object) -> None:
            raise OSError(errno.EPERM, "hard links not supported")

        monkeypatch.setattr(file_store.os, "link", no_link)
    store = FileStore()
    uri = _uri(tmp_path / "lock.json")
    winners: list[bytes] = []
    losers: list[bytes] = []
    barrier = threading.Barrier(16)

    def write(number: int) -> None:
        data = f"writer-{number}".encode()
        barrier.wait()
        try:
            store.write_bytes(uri, data, if_absent=True)
            winners.append(data)
        except ArtifactExists:
            losers.append(data)

    threads = [threading.Thread(target=write, args=(number,)) for number in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1 and len(losers) == 15
    assert store.read_bytes(uri) == winners[0]
    assert [p.name for p in tmp_path.iterdir()] == ["lock.json"], "no temp file is left behind"


def test_written_files_are_world_readable(tmp_path: Path) -> None:
    """Artifacts are 0644 so containers running as another user can read them."""
    store = FileStore()
    store.write_bytes(_uri(tmp_path / "a"), b"1")
    store.upload_file(str(_local(tmp_path, b"2")), _uri(tmp_path / "b"))
    store.download_file(_uri(tmp_path / "a"), str(tmp_path / "c"))
    for name in ("a", "b", "c"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o644


def test_writing_over_a_folder_is_a_store_error(tmp_path: Path) -> None:
    """Writing where a folder is says so instead of claiming something is missing."""
    (tmp_path / "folder").mkdir()
    with pytest.raises(StoreError, match="not a folder"):
        FileStore().write_bytes(_uri(tmp_path / "folder"), b"1")


def test_refuses_s3_uris() -> None:
    """FileStore serves file:// only."""
    with pytest.raises(StoreError, match="file://"):
        FileStore().read_bytes("s3://bucket/key")


def test_accepts_uri_text(tmp_path: Path) -> None:
    """URIs may be given as text, including bare absolute paths."""
    store = FileStore()
    store.write_bytes(f"file://{tmp_path}/x.txt", b"1")
    assert store.read_bytes(str(tmp_path / "x.txt")) == b"1"
    assert store.local_path(f"file://{tmp_path}/x.txt") == str(tmp_path / "x.txt")
