"""Make and unpack model archives; unpacking refuses members that would escape the target folder."""

from __future__ import annotations

import os
import tarfile
from collections.abc import Sequence
from pathlib import Path

from ml_lifecycle.errors import ArchiveError

GZIP_LEVEL = 6
# Python 3.11 before 3.11.4 (Debian 12's python3.11, which an instance may run) has no extraction filters.
_HAS_FILTERS = hasattr(tarfile, "data_filter")
_FILTER_ERRORS: tuple[type[Exception], ...] = (tarfile.FilterError,) if _HAS_FILTERS else ()


__all__ = ["ArchiveError", "extract_tar_gz", "merged_files", "write_tar_gz"]


def merged_files(folders: Sequence[str]) -> dict[str, str]:
    """Map each relative file path to its source over several folders; a path in two folders is an error.

    :param folders: folders to merge (one per host), in host order.
    """
    files: dict[str, str] = {}
    for folder in folders:
        root = Path(folder)
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if path.is_dir():
                continue
            relative = path.relative_to(root).as_posix()
            if relative in files:
                raise ArchiveError(
                    f"Two hosts wrote the file {relative!r} ({files[relative]} and {path}); "
                    "SageMaker merges every host's /opt/ml/model into one archive, so give each host's files "
                    "distinct names (or write only from one host)"
                )
            files[relative] = str(path)
    return files


def write_tar_gz(files: dict[str, str], archive_path: str) -> int:
    """Write files into a gzip tar at archive_path and return its size in bytes.

    :param files: relative name in the archive -> source path.
    :param archive_path: the archive to create.
    """
    with tarfile.open(archive_path, "w:gz", compresslevel=GZIP_LEVEL) as tar:
        for relative, source in sorted(files.items()):
            tar.add(source, arcname=relative, recursive=False)
    return os.path.getsize(archive_path)


def extract_tar_gz(archive_path: str, target_dir: str) -> list[str]:
    """Unpack a model archive safely and return the member names.

    Absolute paths, ``..``, links that leave the folder and device files are refused (tarfile's ``data`` filter).

    :param archive_path: the archive.
    :param target_dir: the folder to unpack into (created).
    """
    os.makedirs(target_dir, exist_ok=True)
    try:
        with tarfile.open(archive_path, "r:*") as tar:
            names = tar.getnames()
            # tarfile's data filter would quietly make absolute names relative; a model archive with one is refused.
            absolute = next((n for n in names if n.startswith("/")), None)
            if absolute is not None:
                raise ArchiveError(
                    f"The archive {archive_path} has a member that escapes its folder (the absolute path "
                    f"{absolute!r}); rebuild it with relative paths"
                )
            _extract_all(tar, target_dir)
    except _FILTER_ERRORS as err:
        raise ArchiveError(
            f"The archive {archive_path} has a member that escapes its folder ({err}); rebuild it with relative paths"
        ) from err
    except (tarfile.TarError, EOFError, OSError) as err:
        raise ArchiveError(f"The archive {archive_path} is not a readable tar.gz ({err}); re-export the model") from err
    return names


def _extract_all(tar: tarfile.TarFile, target_dir: str) -> None:
    """Extract with tarfile's ``data`` filter, or, where Python lacks it, with the same refusals checked first.

    :param tar: the open archive.
    :param target_dir: the folder to unpack into.
    """
    if _HAS_FILTERS:
        tar.extractall(target_dir, filter="data")
        return
    root = os.path.realpath(target_dir)
    for member in tar.getmembers():
        path = os.path.realpath(os.path.join(root, member.name))
        escapes = [path]
        if member.issym():
            escapes.append(os.path.realpath(os.path.join(os.path.dirname(path), member.linkname)))
        elif member.islnk():
            escapes.append(os.path.realpath(os.path.join(root, member.linkname)))
        if member.isdev() or any(p != root and not p.startswith(root + os.sep) for p in escapes):
            raise ArchiveError(
                f"The archive {tar.name} has a member that escapes its folder or is a device ({member.name!r}); "
                "rebuild it with relative paths and regular files"
            )
        member.mode &= 0o755  # as the data filter: no setuid/setgid/sticky, no group or other write
    tar.extractall(target_dir)  # every member was checked above
