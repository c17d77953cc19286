"""Checkpoint sync as SageMaker does it: restore at start, upload new and changed files during the run, and
propagate local deletes; one prefix for all hosts (so hosts must give their files distinct names)."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping

from ml_lifecycle.compute.records import StoreFor
from ml_lifecycle.core.uris import ArtifactUri
from ml_lifecycle.errors import MlLifecycleError

log = logging.getLogger(__name__)

DEFAULT_SYNC_INTERVAL_S = 10.0


class CheckpointSync:
    """Keeps a checkpoint prefix in step with every host's /opt/ml/checkpoints folder."""

    def __init__(self, uri: ArtifactUri, host_dirs: Mapping[str, str], store_for: StoreFor, interval_s: float) -> None:
        """Prepare to sync.

        :param uri: the checkpoint prefix (``checkpoint_uri``).
        :param host_dirs: host -> its checkpoint folder on the engine's host.
        :param store_for: returns the store for a URI.
        :param interval_s: seconds between syncs while the job runs.
        """
        self.uri = uri
        self.host_dirs = dict(host_dirs)
        self.store = store_for(uri)
        self.interval_s = interval_s
        self._known: dict[str, tuple[int, int]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def restore(self) -> int:
        """Copy the prefix's checkpoints into every host's folder before the containers start; return the count."""
        objects = self.store.list_objects(self.uri)
        for folder in self.host_dirs.values():
            if objects:
                self.store.download_prefix(self.uri, folder, objects)
        self._known = self._scan()
        if objects:
            log.info("Restored %d checkpoint file(s) from %s", len(objects), self.uri)
        return len(objects)

    def start(self) -> None:
        """Sync in the background until stop()."""
        self._thread = threading.Thread(target=self._loop, name="checkpoint-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background sync and make one last sync."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sync()

    def sync(self) -> tuple[int, int]:
        """Upload new or changed files and delete the ones removed locally; return (uploaded, deleted)."""
        current = self._scan()
        uploaded = deleted = 0
        for relative, (stamp, source) in sorted(current.items()):
            if self._known.get(relative) != stamp:
                self.store.upload_file(source, self.uri.join(relative))
                uploaded += 1
        for relative in sorted(set(self._known) - set(current)):
            self.store.delete_prefix(self.uri.join(relative))
            deleted += 1
        self._known = {relative: stamp for relative, (stamp, _) in current.items()}
        return uploaded, deleted

    def _loop(self) -> None:
        """Sync every interval until stopped; a failed sync is logged and retried next time."""
        while not self._stop.wait(self.interval_s):
            try:
                self.sync()
            except (MlLifecycleError, OSError) as err:
                log.warning("Checkpoint sync to %s failed (retrying): %s", self.uri, err)

    def _scan(self) -> dict[str, tuple[tuple[int, int], str]]:
        """Return relative path -> ((size, mtime_ns), source path) over all hosts' folders."""
        found: dict[str, tuple[tuple[int, int], str]] = {}
        for folder in self.host_dirs.values():
            for root, _, files in os.walk(folder):
                for name in files:
                    path = os.path.join(root, name)
                    info = os.stat(path)
                    relative = os.path.relpath(path, folder).replace(os.sep, "/")
                    found[relative] = ((info.st_size, info.st_mtime_ns), path)
        return found
