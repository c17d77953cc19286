"""The model archive check: whole gzip streams only, no member leaving its folder, no devices, at least one file."""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from ml_lifecycle.stores.archive_check import BadArchive, check_model_archive

MODEL = b'{"weights": [1.0], "intercept": 0.0}' * 2000


def _tar(members: list[tarfile.TarInfo | tuple[str, bytes]], compress: bool = True) -> bytes:
    """Build a tar (gzipped by default) of files and special members.

    :param members: (name, bytes) for files, or prepared TarInfo for links, devices and folders.
    :param compress: gzip it.
    """
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member)
            else:
                name, data = member
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0) if compress else raw.getvalue()


def _special(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    """Return a member of a special kind.

    :param name: its path.
    :param kind: tarfile.SYMTYPE, LNKTYPE, CHRTYPE, FIFOTYPE or DIRTYPE.
    :param linkname: a link's target.
    """
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


def _truncated() -> bytes:
    """A model.tar.gz cut short: tarfile alone reads it without complaint (its end marker comes first)."""
    whole = _tar([("model.json", MODEL), ("pad.bin", b"\0" * 50_000)])
    return whole[: len(whole) - 6]


def _flipped() -> bytes:
    """A model.tar.gz whose last compressed bytes were changed: the gzip CRC no longer matches."""
    data = bytearray(_tar([("model.json", MODEL)]))
    data[-5] ^= 0xFF
    return bytes(data)


BAD: list[tuple[str, Callable[[], bytes], str]] = [
    ("truncated", _truncated, "damaged gzip file"),
    ("crc", _flipped, "damaged gzip file"),
    ("not-an-archive", lambda: b"just some bytes, no archive at all" * 100, "not a tar archive"),
    ("gzip-of-no-tar", lambda: gzip.compress(b"plain text " * 1000), "not a tar archive"),
    ("dot-dot", lambda: _tar([("../evil.sh", b"x"), ("model.json", MODEL)]), "leaves the folder"),
    ("inner-dot-dot", lambda: _tar([("a/../../evil", b"x"), ("model.json", MODEL)]), "leaves the folder"),
    ("absolute", lambda: _tar([("/etc/cron.d/x", b"x"), ("model.json", MODEL)]), "leaves the folder"),
    (
        "symlink-out",
        lambda: _tar([_special("link", tarfile.SYMTYPE, "../../etc/passwd"), ("model.json", MODEL)]),
        "link leading outside",
    ),
    (
        "symlink-absolute",
        lambda: _tar([_special("link", tarfile.SYMTYPE, "/etc/passwd"), ("model.json", MODEL)]),
        "link leading outside",
    ),
    (
        "hardlink-out",
        lambda: _tar([_special("link", tarfile.LNKTYPE, "../x"), ("model.json", MODEL)]),
        "hard link leading outside",
    ),
    ("device", lambda: _tar([_special("dev", tarfile.CHRTYPE), ("model.json", MODEL)]), "device or a pipe"),
    ("fifo", lambda: _tar([_special("pipe", tarfile.FIFOTYPE), ("model.json", MODEL)]), "device or a pipe"),
    ("empty", lambda: _tar([]), "holds no file"),
    ("only-folders", lambda: _tar([_special("code", tarfile.DIRTYPE)]), "holds no file"),
]


@pytest.mark.parametrize(("case", "build", "message"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_archive_is_refused_saying_what_is_wrong(
    tmp_path: Path, case: str, build: Callable[[], bytes], message: str
):
    path = tmp_path / "model.tar.gz"
    path.write_bytes(build())
    with pytest.raises(BadArchive, match=message) as refused:
        check_model_archive(str(path), "s3://b/model.tar.gz")
    assert "s3://b/model.tar.gz" in str(refused.value)


GOOD: list[tuple[str, Callable[[], bytes], int]] = [
    ("one-file", lambda: _tar([("model.json", MODEL)]), 1),
    ("code-folder", lambda: _tar([_special("code", tarfile.DIRTYPE), ("code/inference.py", b"x"), ("m", MODEL)]), 2),
    ("inner-link", lambda: _tar([("model.json", MODEL), _special("latest.json", tarfile.SYMTYPE, "model.json")]), 1),
    ("dotted-names", lambda: _tar([("./model.json", MODEL), ("a/./b..c", b"x")]), 2),
    ("uncompressed-tar", lambda: _tar([("model.json", MODEL)], compress=False), 1),
]


@pytest.mark.parametrize(("case", "build", "files"), GOOD, ids=[g[0] for g in GOOD])
def test_a_whole_safe_archive_passes_with_its_checksum(
    tmp_path: Path, case: str, build: Callable[[], bytes], files: int
):
    import hashlib

    data = build()
    path = tmp_path / "model.tar.gz"
    path.write_bytes(data)
    report = check_model_archive(str(path), "model")
    assert (report.sha256, report.size_bytes, report.files) == (hashlib.sha256(data).hexdigest(), len(data), files)


def test_tarfile_alone_does_not_notice_the_truncation(tmp_path: Path) -> None:
    path = tmp_path / "model.tar.gz"
    path.write_bytes(_truncated())
    with tarfile.open(path, "r:gz") as tar:  # why the check reads the gzip stream to its end
        assert "model.json" in tar.getnames()
