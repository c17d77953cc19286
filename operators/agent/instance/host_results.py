"""Jobs on several instances: each other host hands in its outputs and result, and algo-1 merges them."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ml_lifecycle.agent.instance.billing import BILLABLE_S, MeteredRecordWriter
from ml_lifecycle.agent.instance.interruptions import INTERRUPT, STOP
from ml_lifecycle.agent.instance.peers import Peer
from ml_lifecycle.compute.local.training.export import MergedExport
from ml_lifecycle.compute.local.training.host_watch import WatchResult
from ml_lifecycle.compute.local.training.interruption import INTERRUPTED
from ml_lifecycle.compute.records import StoreFor, read_record
from ml_lifecycle.core.status import JobRecord, JobStatus, is_failed, is_terminal
from ml_lifecycle.core.uris import ArtifactUri
from ml_lifecycle.errors import MlLifecycleError

log = logging.getLogger(__name__)

RESULT_NAME = "result.json"
POLL_INTERVAL_S = 5.0


class PeerTimeout(MlLifecycleError):
    """Another host of the job handed in no result before the job's deadline."""


def host_prefix(staging_uri: ArtifactUri, host: str) -> ArtifactUri:
    """Return ``<staging>/hosts/<host>``, where a host hands in its outputs and result.

    :param staging_uri: the job's staging prefix.
    :param host: the host name.
    """
    return staging_uri.join("hosts", host)


def read_peer_result(store_for: StoreFor, staging_uri: ArtifactUri, peer: Peer) -> JobRecord | None:
    """Read a host's result, or None when the current instance of that host wrote none yet.

    :param store_for: returns the store for a URI.
    :param staging_uri: the job's staging prefix.
    :param peer: the host and its current instance.
    """
    uri = host_prefix(staging_uri, peer.host).join(RESULT_NAME)
    result = read_record(store_for(uri), uri)
    # A result left by an earlier (interrupted) instance of this host is not this launch's.
    if result is None or result.agent.get("instance_id") != peer.instance_id:
        return None
    return result


class HostResultExport:
    """What a host other than algo-1 exports: its outputs' files (training: model/ and output/data/), as they are,
    below its prefix.

    :param store_for: returns the store for a URI.
    :param staging_uri: the job's staging prefix.
    """

    def __init__(self, store_for: StoreFor, staging_uri: ArtifactUri) -> None:
        self.store_for = store_for
        self.staging_uri = staging_uri

    def collect(self, watched: WatchResult, job_dir: Path) -> dict[str, str]:
        """Only algo-1 gathers the hosts.

        :param watched: how this host ended.
        :param job_dir: the job's working folder.
        """
        return {}

    def export(self, spec: Any, job_dir: Path, layouts: Mapping[str, Any], out_uri: ArtifactUri) -> dict[str, str]:
        """Upload each file of the hosts here to ``<staging>/hosts/<host>/<output name>/``.

        :param spec: the job's spec.
        :param job_dir: the job's working folder.
        :param layouts: host -> layout, for the hosts here.
        :param out_uri: the job's folder (unused: algo-1 writes there).
        """
        artifacts: dict[str, str] = {}
        for host, layout in layouts.items():
            prefix = host_prefix(self.staging_uri, host)
            store = self.store_for(prefix)
            for name, folder in layout.host_outputs().items():
                for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
                    store.upload_file(str(path), prefix.join(name, path.relative_to(folder).as_posix()))
                artifacts[name] = str(prefix.join(name))
        return artifacts


class PeerMergeExport:
    """What algo-1 exports: its own outputs merged with every other host's, once all have handed in a result.

    :param merged: uploads the outputs of every host (those of the others are put in its remote_dirs).
    :param names: the names of what each host hands in (training: ``model`` and ``output``).
    :param store_for: returns the store for a URI.
    :param staging_uri: the job's staging prefix.
    :param peers: host -> its instance, for every host but algo-1.
    :param writer: algo-1's record writer (peers' instance time is added to it).
    :param deadline_epoch_s: when to give up waiting for the peers (the job's deadline).
    :param interrupt: called when a peer was interrupted (the whole job is then resumed later).
    """

    def __init__(
        self,
        merged: MergedExport,
        names: Sequence[str],
        store_for: StoreFor,
        staging_uri: ArtifactUri,
        peers: Mapping[str, Peer],
        writer: MeteredRecordWriter,
        deadline_epoch_s: float,
        interrupt: Callable[[str], None],
    ) -> None:
        self.merged = merged
        self.names = tuple(names)
        self.store_for = store_for
        self.staging_uri = staging_uri
        self.peers = dict(peers)
        self.writer = writer
        self.deadline_epoch_s = deadline_epoch_s
        self.interrupt = interrupt
        self.cancelled = threading.Event()

    def peer_check(self) -> str | None:
        """Say INTERRUPT when a peer was interrupted (noting every peer's instance time on the way)."""
        action = None
        for peer in self.peers.values():
            result = read_peer_result(self.store_for, self.staging_uri, peer)
            if result is not None:
                self.writer.peer_billable_s[peer.host] = float(result.agent.get(BILLABLE_S) or 0.0)
                if result.secondary_status == INTERRUPTED:
                    action = INTERRUPT
        return action

    def collect(self, watched: WatchResult, job_dir: Path) -> dict[str, str]:
        """Wait for every peer's final result, add its exit code, and download its outputs; return failure reasons.

        :param watched: how algo-1 ended (updated with the peers' exit codes).
        :param job_dir: the job's working folder (peers' outputs are downloaded below it).
        """
        reasons: dict[str, str] = {}
        for host, peer in sorted(self.peers.items()):
            result = self._wait_for(peer)
            if result is None:  # cancelled: the job is being interrupted
                return reasons
            self.writer.peer_billable_s[host] = float(result.agent.get(BILLABLE_S) or 0.0)
            if result.secondary_status == INTERRUPTED:
                self.interrupt(f"{host} was interrupted")
                return reasons
            watched.exit_codes[host] = int(result.exit_codes.get(host, 1 if is_failed(result.status) else 0))
            if result.status == JobStatus.FAILED:
                reasons[host] = result.failure_reason or f"{host} failed"
            folders: dict[str, str] = {}
            for name in self.names:
                local = job_dir / "peers" / host / name
                local.mkdir(parents=True, exist_ok=True)
                prefix = host_prefix(self.staging_uri, host).join(name)
                store = self.store_for(prefix)
                objects = store.list_objects(prefix)
                if objects:
                    store.download_prefix(prefix, str(local), objects)
                folders[name] = str(local)
            self.merged.remote_dirs[host] = folders
        return reasons

    def export(self, spec: Any, job_dir: Path, layouts: Mapping[str, Any], out_uri: ArtifactUri) -> dict[str, str]:
        """Upload every host's outputs, as the merged export does.

        :param spec: the job's spec.
        :param job_dir: the job's working folder.
        :param layouts: host -> layout, for the hosts here (algo-1).
        :param out_uri: the job's folder.
        """
        return self.merged.export(spec, job_dir, layouts, out_uri)

    def _wait_for(self, peer: Peer) -> JobRecord | None:
        """Poll a peer's result until it is final (or interrupted); None when cancelled.

        :param peer: the host and its instance.
        """
        while not self.cancelled.is_set():
            result = read_peer_result(self.store_for, self.staging_uri, peer)
            if result is not None and (is_terminal(result.status) or result.secondary_status == INTERRUPTED):
                return result
            if time.time() > self.deadline_epoch_s:
                raise PeerTimeout(
                    f"{peer.host} ({peer.instance_id}) handed in no result before the job's deadline; see its log "
                    f"stream in CloudWatch Logs and {host_prefix(self.staging_uri, peer.host)}"
                )
            self.cancelled.wait(POLL_INTERVAL_S)
        return None


def leader_check(store_for: StoreFor, record_uri: ArtifactUri, leader: Peer) -> Callable[[], str | None]:
    """Return a check for hosts other than algo-1: STOP once the job record is final, INTERRUPT when interrupted.

    :param store_for: returns the store for a URI.
    :param record_uri: the job record.
    :param leader: algo-1 and its current instance.
    """

    def check() -> str | None:
        record = read_record(store_for(record_uri), record_uri)
        if record is None or record.agent.get("instance_id") != leader.instance_id:
            return None
        if is_terminal(record.status):
            return STOP
        return INTERRUPT if record.secondary_status == INTERRUPTED else None

    return check
