"""Moving an endpoint's sealed capture files from the proxy's spool to their destination (S3), off the request path.

The proxy's Lua seals a file (``<name>.jsonl.part`` renamed ``<name>.jsonl``) once it will never write to it again.
A pass uploads each sealed file to ``<destination>/<endpoint>/<its path in the spool>`` (``AllTraffic/yyyy/mm/dd/hh/``)
and removes it, under a lock, so two uploaders (an endpoint's own and a delete's last pass) never send one file
twice. A file the destination refuses stays for the next pass; past MAX_BACKLOG_BYTES, or on the last pass, what is
left is dropped and its records counted lost, with the error, in the counters the endpoint's description shows.
Local endpoints and EC2 endpoint hosts run the same passes.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml_lifecycle.compute.local.endpoints.capture_config import UPLOAD_STATS_NAME
from ml_lifecycle.core.uris import ArtifactUri, parse_uri
from ml_lifecycle.stores.base import ArtifactStore

SEALED_PATTERN = "*.jsonl"
LOCK_NAME = ".upload.lock"
# What the spool may hold while the destination refuses it (the host's disk is the model's too).
MAX_BACKLOG_BYTES = 512 * 1024 * 1024
UPLOAD_INTERVAL_S = 2.0


@dataclass(frozen=True)
class UploadTarget:
    """Where an endpoint's spooled capture files go.

    :param spool: the folder the proxy writes to (its records root, the variant's folders below it).
    :param destination: ``<DestinationS3Uri>/<endpoint>``.
    :param state_dir: the counters' folder (the uploader's are UPLOAD_STATS_NAME in it).
    """

    spool: Path
    destination: ArtifactUri
    state_dir: Path

    @classmethod
    def of(cls, spool: Path, destination: str, state_dir: Path) -> UploadTarget:
        """Return the target of a capture setup's folders and upload URI.

        :param spool: the spool folder.
        :param destination: ``<DestinationS3Uri>/<endpoint>`` as text.
        :param state_dir: the counters' folder.
        """
        return cls(spool, parse_uri(destination, "data_capture.DestinationS3Uri"), state_dir)


def upload_pass(target: UploadTarget, store_for: Callable[[ArtifactUri], ArtifactStore], final: bool = False) -> int:
    """Upload and remove every sealed file of the spool; return how many records went.

    :param target: the spool and the destination.
    :param store_for: returns the store for a URI.
    :param final: the last pass (the proxy has stopped): what cannot be uploaded now is dropped and counted lost.
    """
    if not target.spool.is_dir():
        return 0
    with _locked(target.spool):
        stats = _read_stats(target.state_dir)
        uploaded = 0
        kept: list[tuple[Path, int]] = []
        for path in sorted(target.spool.rglob(SEALED_PATTERN)):
            data = path.read_bytes()
            uri = target.destination.join(*path.relative_to(target.spool).parts)
            try:
                store_for(uri).write_bytes(uri, data)
            except Exception as err:  # any refusal of the destination: the file waits, the request never knew
                stats["last_error"] = f"uploading {path.name} to {uri} failed: {type(err).__name__}: {err}"[:500]
                kept.append((path, len(data)))
                continue
            path.unlink()
            uploaded += data.count(b"\n")
        stats["uploaded"] = int(stats.get("uploaded", 0)) + uploaded
        for path in _dropped(kept, final):
            stats["lost"] = int(stats.get("lost", 0)) + path.read_bytes().count(b"\n")
            path.unlink()
        _write_stats(target.state_dir, stats)
        return uploaded


def _dropped(kept: list[tuple[Path, int]], final: bool) -> list[Path]:
    """Return the files that failed to upload and are given up: all on the last pass, else the oldest past the cap.

    :param kept: (file, bytes) that failed this pass, oldest name first.
    :param final: the last pass.
    """
    if final:
        return [path for path, _ in kept]
    dropped = []
    total = sum(size for _, size in kept)
    for path, size in kept:
        if total <= MAX_BACKLOG_BYTES:
            break
        dropped.append(path)
        total -= size
    return dropped


@contextmanager
def _locked(spool: Path) -> Iterator[None]:
    """Hold the spool's upload lock (one pass at a time, across processes).

    :param spool: the spool folder.
    """
    with open(spool / LOCK_NAME, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_stats(state_dir: Path) -> dict[str, Any]:
    """Return the uploader's counters so far ({} at first).

    :param state_dir: the counters' folder.
    """
    try:
        return dict(json.loads((state_dir / UPLOAD_STATS_NAME).read_text()))
    except (OSError, ValueError, TypeError):
        return {}


def _write_stats(state_dir: Path, stats: dict[str, Any]) -> None:
    """Write the uploader's counters atomically.

    :param state_dir: the counters' folder.
    :param stats: uploaded, lost, last_error.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    temp = state_dir / f".{UPLOAD_STATS_NAME}.tmp"
    temp.write_text(json.dumps({"uploaded": 0, "lost": 0, "last_error": "", **stats}))
    os.replace(temp, state_dir / UPLOAD_STATS_NAME)
