"""The file:// artifact store: a local (or mounted) folder, written atomically through temp files."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from ml_lifecycle.core.uris import ArtifactUri, parse_uri
from ml_lifecycle.errors import ArtifactExists, ArtifactNotFound, MlLifecycleError, StoreError
from ml_lifecycle.stores.base import ObjectInfo

TEMP_PREFIX = ".tmp-"
# Artifacts are read by containers that may run as another user, so they are world-readable.
_FILE_MODE = 0o644
_COPY_CHUNK_BYTES = 1024 * 1024


class FileStore:
    """An ArtifactStore for file:// URIs; a reader never sees a half-written file."""

    def list_objects(self, uri: ArtifactUri | str) -> list[ObjectInfo]:
        """List every file at or below uri, recursively, sorted by relative_key; [] when there is none.

        :param uri: a folder or a single file.
        """
        root = _path(uri)
        if root.is_file():
            return [_info(root, root.name)]
        if not root.is_dir():
            return []
        found: list[ObjectInfo] = []
        for folder, _dirs, names in os.walk(root):
            for name in names:
                if name.startswith(TEMP_PREFIX):
                    continue
                path = Path(folder, name)
                if path.is_file():
                    found.append(_info(path, path.relative_to(root).as_posix()))
        return sorted(found, key=lambda info: info.relative_key)

    def exists(self, uri: ArtifactUri | str) -> bool:
        """Say whether a file exists at exactly uri.

        :param uri: the file.
        """
        return _path(uri).is_file()

    def read_bytes(self, uri: ArtifactUri | str) -> bytes:
        """Read a whole (small) file; raises ArtifactNotFound when missing.

        :param uri: the file.
        """
        path = _path(uri)
        with _os_errors(path):
            return path.read_bytes()

    def write_bytes(self, uri: ArtifactUri | str, data: bytes, *, if_absent: bool = False) -> None:
        """Write a whole file atomically; with if_absent, raise ArtifactExists if it exists already.

        :param uri: the file.
        :param data: its content.
        :param if_absent: fail instead of replacing an existing file.
        """
        _write_atomically(_path(uri), lambda out: out.write(data), if_absent=if_absent)

    def iter_chunks(self, uri: ArtifactUri | str, chunk_bytes: int = 8 * 1024 * 1024) -> Iterator[bytes]:
        """Stream a file's bytes in bounded memory.

        :param uri: the file.
        :param chunk_bytes: the size of each chunk.
        """
        path = _path(uri)
        with _os_errors(path), path.open("rb") as source:
            while chunk := source.read(chunk_bytes):
                yield chunk

    def write_chunks(self, uri: ArtifactUri | str, chunks: Iterable[bytes]) -> None:
        """Write a file from a stream, atomically, in bounded memory; a failing stream leaves nothing.

        :param uri: the file.
        :param chunks: its content.
        """

        def write_all(out: BinaryIO) -> None:
            for chunk in chunks:
                out.write(chunk)

        _write_atomically(_path(uri), write_all)

    def download_file(self, uri: ArtifactUri | str, local_path: str) -> None:
        """Copy one file to local_path (created with its parent folders), atomically.

        :param uri: the file.
        :param local_path: the destination file.
        """
        _copy_atomically(_path(uri), Path(local_path), fsync=False)

    def download_prefix(self, uri: ArtifactUri | str, local_dir: str, objects: list[ObjectInfo] | None = None) -> None:
        """Copy files below uri into local_dir, keeping their relative paths.

        :param uri: the folder (or single file).
        :param local_dir: the destination folder.
        :param objects: the files to copy (a subset of list_objects(uri)); None copies all.
        """
        chosen = self.list_objects(uri) if objects is None else objects
        destination_root = Path(local_dir).resolve()
        for info in chosen:
            destination = (destination_root / info.relative_key).resolve()
            if not destination.is_relative_to(destination_root):
                raise StoreError(
                    f"{info.uri} has the relative key {info.relative_key!r}, which points outside "
                    f"{local_dir}. Rename the artifact so its key has no '..' segments"
                )
            _copy_atomically(_object_path(info), destination, fsync=False)

    def upload_file(self, local_path: str, uri: ArtifactUri | str) -> str:
        """Copy a local file to uri atomically and return the stored file's etag.

        :param local_path: the source file.
        :param uri: the destination file.
        """
        target = _path(uri)
        _copy_atomically(Path(local_path), target, fsync=True)
        return _etag(target.stat())

    def delete_prefix(self, uri: ArtifactUri | str) -> int:
        """Delete every file at or below uri (and the folders left empty) and return how many files went.

        :param uri: a folder or a file.
        """
        root = _path(uri)
        if root.is_file() or root.is_symlink():
            with _os_errors(root):
                root.unlink()
            return 1
        if not root.is_dir():
            return 0
        deleted = 0
        for folder, _dirs, names in os.walk(root, topdown=False):
            for name in names:
                if name.startswith(TEMP_PREFIX):
                    continue  # an in-flight writer owns it; its folder stays
                with _os_errors(Path(folder, name)):
                    Path(folder, name).unlink()
                deleted += 1
            with contextlib.suppress(OSError):
                os.rmdir(folder)  # fails, as it should, when the folder is not empty
        return deleted

    def local_path(self, uri: ArtifactUri | str) -> str | None:
        """Return the local path of uri (file stores are local folders).

        :param uri: any location in this store.
        """
        return str(_path(uri))


def _path(uri: ArtifactUri | str) -> Path:
    """Return the local path of a file:// URI, refusing other schemes.

    :param uri: the location, parsed or as text.
    """
    parsed = parse_uri(uri) if isinstance(uri, str) else uri
    if parsed.scheme != "file":
        raise StoreError(
            f"FileStore cannot handle {parsed}: it only serves file:// URIs. "
            "Get the store with ml_lifecycle.stores.store_for(uri)"
        )
    return Path(parsed.path)


def _object_path(info: ObjectInfo) -> Path:
    """Return the local path of a listed file (its URI is not percent-encoded, so it is not re-parsed).

    :param info: a result of list_objects.
    """
    if info.uri.startswith("file:///"):
        return Path(info.uri.removeprefix("file://"))
    return _path(info.uri)


def _etag(stat: os.stat_result) -> str:
    """Return a file's version tag: a hex digest of its size and modification time.

    :param stat: the file's stat result.
    """
    return hashlib.blake2b(f"{stat.st_size}:{stat.st_mtime_ns}".encode(), digest_size=16).hexdigest()


def _info(path: Path, relative_key: str) -> ObjectInfo:
    """Describe one file.

    :param path: the file.
    :param relative_key: its path below the listed folder, ``/``-separated.
    """
    stat = path.stat()
    return ObjectInfo(uri=f"file://{path}", relative_key=relative_key, size_bytes=stat.st_size, etag=_etag(stat))


@contextlib.contextmanager
def _os_errors(path: Path) -> Iterator[None]:
    """Translate OS errors on path into ml_lifecycle errors that say how to fix them.

    :param path: the file being accessed.
    """
    try:
        yield
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as err:
        raise ArtifactNotFound(
            f"file://{path} does not exist (or is a folder). Check the URI, or run the step that writes it first"
        ) from err
    except PermissionError as err:
        raise StoreError(
            f"Permission denied on file://{path}. Make the folder readable/writable by the Airflow worker's user"
        ) from err
    except OSError as err:
        raise StoreError(f"Could not access file://{path}: {err}. Check the disk and the mount") from err


@contextlib.contextmanager
def _write_errors(target: Path) -> Iterator[None]:
    """Translate OS errors while writing target into a StoreError that says how to fix them.

    :param target: the file being written.
    """
    try:
        yield
    except MlLifecycleError:
        raise
    except OSError as err:
        raise StoreError(
            f"Could not write file://{target}: {err.strerror or err}. Check that it is not a folder, that "
            "no parent of it is a file, that the folder is writable by the Airflow worker's user and that "
            "the disk has space"
        ) from err


def _write_atomically(target: Path, write: Callable[[BinaryIO], object], *, if_absent: bool = False) -> None:
    """Write target through a synced temp file in its folder, then move it into place in one step.

    :param target: the final file.
    :param write: writes the content into the open temp file.
    :param if_absent: raise ArtifactExists instead of replacing an existing target (race-safe).
    """
    with _write_errors(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=target.parent)
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), _FILE_MODE)
            write(out)  # errors of the caller's stream pass through untranslated
            with _write_errors(target):
                out.flush()
                os.fsync(out.fileno())
        with _write_errors(target):
            if if_absent:
                _publish_if_absent(temp, target)
            else:
                os.replace(temp, target)
            _fsync_folder(target.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


def _publish_if_absent(temp: Path, target: Path) -> None:
    """Make the finished temp file visible as target unless target exists; atomic against rivals.

    :param temp: the synced temp file (left in place; the caller removes it).
    :param target: the final file.
    """
    try:
        os.link(temp, target)  # fails with EEXIST when a rival won, atomically
        return
    except FileExistsError as err:
        raise ArtifactExists(
            f"file://{target} exists already and must not be replaced. "
            "Write to a new URI, or delete the old artifact first"
        ) from err
    except OSError as err:
        if err.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
    # The filesystem has no hard links (some FUSE/SMB mounts): reserve the name with O_EXCL, which is
    # still race-safe, then move the content over it (a reader may briefly see an empty file).
    try:
        os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, _FILE_MODE))
    except FileExistsError as err:
        raise ArtifactExists(
            f"file://{target} exists already and must not be replaced. "
            "Write to a new URI, or delete the old artifact first"
        ) from err
    os.replace(temp, target)


def _copy_atomically(source: Path, target: Path, *, fsync: bool) -> None:
    """Copy source to target through a temp file in target's folder.

    :param source: the file to copy.
    :param target: the destination file (parent folders are created).
    :param fsync: sync the data to disk before it becomes visible.
    """
    if not source.is_file():
        raise ArtifactNotFound(f"{source} does not exist or is not a file. Check the path")
    if not fsync:
        with _write_errors(target):
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, temp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=target.parent)
            os.close(fd)
        try:
            with _os_errors(source):
                shutil.copyfile(source, temp_name)
            with _write_errors(target):
                os.chmod(temp_name, _FILE_MODE)
                os.replace(temp_name, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)
        return

    def copy_into(out: BinaryIO) -> None:
        with _os_errors(source), source.open("rb") as src:
            shutil.copyfileobj(src, out, _COPY_CHUNK_BYTES)

    _write_atomically(target, copy_into)


def _fsync_folder(folder: Path) -> None:
    """Sync a folder so a rename inside it survives a crash (best effort; not every OS allows it).

    :param folder: the folder.
    """
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
