"""Pack a source directory (or one entry point) and its dependencies into sourcedir.tar.gz, as the SageMaker SDK does,
and keep it under the job's output_path, content-addressed: an unchanged directory is neither repacked nor uploaded.

Layout (the SDK's fw_utils.tar_and_upload_dir): the source directory's contents at the archive's root, or the entry
point alone when there is no source directory; each dependency as a top-level folder (or file) named by its base
name. Unlike the SDK, ``__pycache__`` folders and ``.pyc`` files are left out, so running the code locally does not
change the archive; symbolic links are followed, as the SDK's ``dereference=True`` does. The archive is byte-for-byte
reproducible (sorted members, fixed times and owners).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.script_mode import SOURCE_ARCHIVE, check_entry_point, source_prefix
from ml_lifecycle.core.uris import parse_uri
from ml_lifecycle.stores import StoreFor

FIXED_MTIME = 1_600_000_000
SKIPPED_DIRS = frozenset({"__pycache__", ".git"})
SKIPPED_SUFFIXES = (".pyc", ".pyo")


@dataclass(frozen=True)
class SourceCode:
    """A script-mode job's code as the operators take it.

    :param entry_point: the program, relative to source_dir (or a path to it when there is no source_dir).
    :param source_dir: the folder packed whole, or None.
    :param dependencies: more folders or files put at the archive's root by their base name.
    """

    entry_point: str
    source_dir: str | None = None
    dependencies: tuple[str, ...] = ()

    def program(self) -> str:
        """Return the entry point as the container runs it (relative to /opt/ml/code)."""
        return check_entry_point(self.entry_point if self.source_dir else os.path.basename(self.entry_point))

    def members(self, dependency_folder: str = "") -> list[tuple[str, Path]]:
        """Return (name in the archive, file on this machine) for every file, sorted; raise SpecError for a bad path.

        :param dependency_folder: the folder dependencies go in (the SDK's repack for serving uses ``lib``); ""
            puts them at the root, as the SDK's sourcedir.tar.gz does.
        """
        self.program()  # a path leaving the source folder is refused before any file is looked at
        roots: list[tuple[str, Path]] = []
        if self.source_dir:
            folder = Path(self.source_dir)
            if not folder.is_dir():
                raise SpecError("source_dir", f"{self.source_dir!r} is not a folder on this machine", _WHERE)
            if not (folder / self.entry_point).is_file():
                raise SpecError("entry_point", f"{self.entry_point!r} is not a file in {self.source_dir}", _WHERE)
            roots += [(child.name, child) for child in folder.iterdir()]
        else:
            script = Path(self.entry_point)
            if not script.is_file():
                raise SpecError("entry_point", f"{self.entry_point!r} is not a file on this machine", _WHERE)
            roots.append((script.name, script))
        for dependency in self.dependencies:
            path = Path(dependency)
            if not path.exists():
                raise SpecError("dependencies", f"{dependency!r} does not exist on this machine", _WHERE)
            roots.append((f"{dependency_folder}/{path.name}" if dependency_folder else path.name, path))
        names = [name for name, _ in roots]
        if len(set(names)) != len(names):
            raise SpecError("dependencies", f"two entries would be named alike at the archive's root: {names}", _WHERE)
        return sorted(member for name, path in roots for member in _files(name, path))


_WHERE = "Give paths on the machine the Airflow task runs on (relative ones from its working directory)"


def _files(name: str, path: Path) -> Iterator[tuple[str, Path]]:
    """Yield (archive name, path) for a file, or for every file below a folder (following links), skipping caches.

    :param name: its name in the archive.
    :param path: the file or folder.
    """
    if path.is_file():
        if not name.endswith(SKIPPED_SUFFIXES):
            yield name, path
        return
    for root, dirs, files in os.walk(path, followlinks=True):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        relative = os.path.relpath(root, path)
        for file in sorted(files):
            if not file.endswith(SKIPPED_SUFFIXES):
                yield os.path.normpath(os.path.join(name, relative, file)), Path(root, file)


def digest_of(members: Sequence[tuple[str, Path]]) -> str:
    """Return the sha256 of the archive's content (names, executable bits, bytes), computed without packing.

    :param members: what members() returned.
    """
    total = hashlib.sha256()
    for name, path in members:
        executable = os.access(path, os.X_OK)
        total.update(f"{name}\0{int(executable)}\0{path.stat().st_size}\0".encode())
        with path.open("rb") as source:
            for chunk in iter(lambda: source.read(1 << 20), b""):
                total.update(chunk)
    return total.hexdigest()


def pack(members: Sequence[tuple[str, Path]], out: Path) -> None:
    """Write the members as a reproducible tar.gz.

    :param members: what members() returned.
    :param out: the archive to write.
    """
    with (
        out.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name, path in members:
            add_file(tar, name, path)


def add_file(tar: tarfile.TarFile, name: str, path: Path) -> None:
    """Add a file with fixed time and owner (only its bytes and executable bit count).

    :param tar: the archive being written.
    :param name: its name in the archive.
    :param path: the file.
    """
    info = tarfile.TarInfo(name)
    info.size = path.stat().st_size
    info.mode = 0o755 if os.access(path, os.X_OK) else 0o644
    info.mtime = FIXED_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    with path.open("rb") as source:
        tar.addfile(info, source)


def ensure_source_archive(code: SourceCode, output_path: str, store_for: StoreFor, sink: Callable[[str], None]) -> str:
    """Return the prefix holding the code's sourcedir.tar.gz under output_path, packing and uploading it if absent.

    :param code: the entry point, source directory and dependencies.
    :param output_path: the job's output_path (``file://`` or ``s3://``).
    :param store_for: returns the store for a URI.
    :param sink: the task log.
    """
    members = code.members()
    digest = digest_of(members)
    prefix = source_prefix(output_path, digest)
    archive = parse_uri(prefix + SOURCE_ARCHIVE, "output_path")
    store = store_for(archive)
    if store.exists(archive):
        sink(f"Source code unchanged ({len(members)} files, sha256 {digest[:12]}): {archive} is reused")
        return prefix
    with tempfile.TemporaryDirectory(prefix="ml-lifecycle-source-") as folder:
        packed = Path(folder) / SOURCE_ARCHIVE
        pack(members, packed)
        store.upload_file(str(packed), archive)
        sink(f"Source code packed ({len(members)} files, {packed.stat().st_size} bytes) and uploaded to {archive}")
    return prefix


def archive_names(data: bytes) -> list[str]:
    """Return the member names of a source archive (for tests and checks).

    :param data: the archive's bytes.
    """
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return sorted(tar.getnames())
