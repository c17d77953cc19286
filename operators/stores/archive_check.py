"""What a model archive must be before it is published or unpacked: whole, safe, and holding a model.

Python's tarfile stops at the tar's end marker and never reads the gzip trailer, so a truncated or corrupted
model.tar.gz can unpack into garbage without an error. The check reads the whole gzip stream (its CRC and length
are verified at its end), then walks every member: none may leave the folder it is unpacked into, be a device or
a pipe, or link outside it; and at least one regular file must be there for the serving container to load.
"""

from __future__ import annotations

import gzip
import hashlib
import posixpath
import tarfile
import zlib
from dataclasses import dataclass

from ml_lifecycle.errors import ArchiveError

CHUNK_BYTES = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"


class BadArchive(ArchiveError):
    """A model archive is not whole, not safe to unpack, or holds no model."""


@dataclass(frozen=True)
class ArchiveReport:
    """What a checked archive holds.

    :param sha256: the archive's sha256 (hex), of its bytes as stored.
    :param size_bytes: its size.
    :param files: how many regular files it holds.
    """

    sha256: str
    size_bytes: int
    files: int


def check_model_archive(path: str, name: str) -> ArchiveReport:
    """Read a model archive whole and check every member; raise BadArchive saying what is wrong and how to fix it.

    :param path: the archive on local disk.
    :param name: how messages name it (its URI).
    """
    digest, size = _sha256(path)
    with open(path, "rb") as handle:
        magic = handle.read(2)
    if magic == GZIP_MAGIC:
        _read_gzip_to_end(path, name)
    files = _check_members(path, name)
    return ArchiveReport(sha256=digest, size_bytes=size, files=files)


def _sha256(path: str) -> tuple[str, int]:
    """Return a file's sha256 (hex) and size.

    :param path: the file.
    """
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _read_gzip_to_end(path: str, name: str) -> None:
    """Decompress the whole gzip stream, so that its CRC and length are checked.

    :param path: the archive.
    :param name: how messages name it.
    """
    try:
        with gzip.open(path, "rb") as stream:
            while stream.read(CHUNK_BYTES):
                pass
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as err:
        raise BadArchive(
            f"{name} is a damaged gzip file ({err}): it is truncated or corrupted. Export the model again from the "
            "training job's output, and check what wrote or copied it"
        ) from err


def _check_members(path: str, name: str) -> int:
    """Walk the tar's members; return how many regular files it holds.

    :param path: the archive.
    :param name: how messages name it.
    """
    try:
        with tarfile.open(path, "r:*") as tar:
            members = tar.getmembers()
    except (tarfile.TarError, EOFError, OSError, zlib.error) as err:
        raise BadArchive(
            f"{name} is not a tar archive ({err}). A model must be a model.tar.gz of the files the serving "
            "container loads from /opt/ml/model (SageMaker's ModelDataUrl)"
        ) from err
    for member in members:
        problem = member_problem(member)
        if problem:
            raise BadArchive(f"{name} has a member that {problem}; rebuild the archive from the model's folder")
    files = sum(1 for m in members if m.isfile())
    if files == 0:
        raise BadArchive(
            f"{name} holds no file: the serving container would find /opt/ml/model empty. Export a model.tar.gz "
            "that holds the model's files"
        )
    return files


def member_problem(member: tarfile.TarInfo) -> str:
    """Return what makes a member unsafe to unpack ("" when it is fine).

    :param member: the member.
    """
    if _escapes(member.name):
        return f"leaves the folder it is unpacked into ({member.name!r})"
    if member.isdev() or member.isfifo():
        return f"is a device or a pipe ({member.name!r})"
    if member.issym():
        target = posixpath.join(posixpath.dirname(member.name), member.linkname)
        if member.linkname.startswith("/") or _escapes(target):
            return f"is a link leading outside the archive ({member.name!r} -> {member.linkname!r})"
    if member.islnk() and (member.linkname.startswith("/") or _escapes(member.linkname)):
        return f"is a hard link leading outside the archive ({member.name!r} -> {member.linkname!r})"
    return ""


def _escapes(name: str) -> bool:
    """Say whether a member path is absolute or climbs above the archive's root.

    :param name: the member's path.
    """
    if name.startswith("/"):
        return True
    return posixpath.normpath(name).split("/", 1)[0] == ".."
