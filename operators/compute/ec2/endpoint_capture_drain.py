"""Before an EC2 endpoint revision's instances are terminated: its capturing hosts stop and make their last upload.

Terminating an instance kills its agent with what its proxy still held (up to SEAL_AFTER_S of records, sealed or not).
So a delete, the retirement of the old revision after an update, and the rollback of a failed new one first write the
revision's stop request: each host stops nginx (which writes and seals what it holds), uploads the rest, and reports
``stopped`` in its counters; the instances are terminated once every capturing host has, or after CAPTURE_DRAIN_S
(then the task log says which hosts did not finish). Revisions that do not capture are not waited for.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence

from ml_lifecycle.compute.ec2.endpoint_revisions import revision_staging
from ml_lifecycle.core.ec2.endpoint_hosts import HOST_CAPTURE, STOP_REQUEST
from ml_lifecycle.core.uris import ArtifactUri
from ml_lifecycle.stores import StoreFor

CAPTURE_DRAIN_S = 120.0  # nginx's graceful stop, the last upload and the host's 5 s stop poll, with room
POLL_S = 1.0


def drain_capture(
    store_for: StoreFor, prefix: ArtifactUri, revisions: Sequence[str], sink: Callable[[str], None]
) -> list[str]:
    """Ask the capturing hosts of revisions to stop, and wait for their last uploads; return those that did not finish.

    :param store_for: returns the store for a URI.
    :param prefix: the endpoint's state prefix.
    :param revisions: the revisions whose instances are about to end.
    :param sink: the task log.
    """
    waiting: list[ArtifactUri] = []
    for revision in revisions:
        staging = revision_staging(prefix, revision)
        hosts = staging.join("hosts")
        reports = [hosts.join(o.relative_key) for o in store_for(hosts).list_objects(hosts)]
        capturing = [uri for uri in reports if uri.path.endswith(f"/{HOST_CAPTURE}")]
        if capturing:
            stop = staging.join(STOP_REQUEST)
            store_for(stop).write_bytes(stop, b"stop")
            waiting += capturing
    deadline_s = time.monotonic() + CAPTURE_DRAIN_S
    while waiting and time.monotonic() < deadline_s:
        waiting = [uri for uri in waiting if not _stopped(store_for, uri)]
        if waiting:
            time.sleep(POLL_S)
    if waiting:
        sink(
            f"Data capture: {len(waiting)} host(s) did not finish their last upload within {CAPTURE_DRAIN_S:.0f} s; "
            f"the records they still held are lost ({', '.join(str(u) for u in waiting)})"
        )
    return [str(uri) for uri in waiting]


def _stopped(store_for: StoreFor, uri: ArtifactUri) -> bool:
    """Say whether a host's counters say it has stopped (its last upload made).

    :param store_for: returns the store for a URI.
    :param uri: the host's capture counters.
    """
    try:
        return bool(json.loads(store_for(uri).read_bytes(uri)).get("stopped"))
    except (OSError, ValueError):
        return False
