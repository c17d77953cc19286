"""Delete the endpoints that opted into an idle limit and served no request for that long (the reaper's part)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from ml_lifecycle.compute.endpoint_interface import EndpointBackend
from ml_lifecycle.core.endpoint_idleness import ENDPOINT_KIND, idle_reason
from ml_lifecycle.errors import EndpointBusy

log = logging.getLogger(__name__)


def reap_idle_endpoints(
    endpoints: EndpointBackend, match_labels: Mapping[str, str], dry_run: bool, now_epoch_s: float | None = None
) -> list[dict[str, Any]]:
    """Delete every endpoint idle past its idle_delete_after_h; return what was (or would be) deleted and why.

    A request that arrives between the check and the delete is refused by an endpoint being deleted, as SageMaker's
    DeleteEndpoint does.

    :param endpoints: the backend's endpoints.
    :param match_labels: only endpoints whose resources carry these labels (or tags) too.
    :param dry_run: only say what would be deleted.
    :param now_epoch_s: the time now; default time.time().
    """
    now = time.time() if now_epoch_s is None else now_epoch_s
    reaped = []
    for activity in endpoints.activity(match_labels):
        reason = idle_reason(activity, now)
        if reason is None:
            continue
        name = activity.endpoint_name
        log.info("%s idle endpoint %s: %s", "Would delete" if dry_run else "Deleting", name, reason)
        try:
            removed = {} if dry_run else endpoints.delete(name, {}, log.info)
        except EndpointBusy as err:  # a deploy holds it (and will restart its idle clock): the next run judges again
            log.warning("Idle endpoint %s is kept for now: %s", name, err)
            continue
        reaped.append(
            {
                "job": name,
                "kind": ENDPOINT_KIND,
                "reason": reason,
                "instance_type": activity.instance_type,
                "instance_count": activity.instance_count,
                "removed": removed,
            }
        )
    return reaped
