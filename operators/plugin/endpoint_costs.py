"""What the page says of each endpoint's running cost and idleness, and of the endpoints the reaper deleted."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from ml_lifecycle.core.endpoint_cost import estimated_usd, instance_hours
from ml_lifecycle.core.endpoint_idleness import REAPED_ENDPOINTS, SECONDS_PER_HOUR, EndpointActivity
from ml_lifecycle.core.uris import ArtifactUri
from ml_lifecycle.plugin.prices import hourly_usd
from ml_lifecycle.stores.base import ArtifactStore

MAX_NOTES = 200


def cost_columns(activities: Iterable[EndpointActivity], now_epoch_s: float) -> dict[str, dict[str, Any]]:
    """Return, by endpoint name, its instance-hours, estimated cost, last request and idle limit.

    :param activities: what each endpoint's front says.
    :param now_epoch_s: the time now, in seconds since the epoch.
    """
    found = {}
    for activity in activities:
        hours = instance_hours(activity.fleet, now_epoch_s)
        usd = estimated_usd(activity.fleet, now_epoch_s, hourly_usd)
        idle_since = activity.idle_since_epoch_s()
        found[activity.endpoint_name] = {
            "instance_type": activity.instance_type,
            "running_instances": activity.instance_count,
            "instance_hours": round(hours, 4),
            "estimated_usd": None if usd is None else round(usd, 4),
            "last_request_at": _iso(activity.last_request_epoch_s),
            "idle_h": None if idle_since is None else round((now_epoch_s - idle_since) / SECONDS_PER_HOUR, 3),
            "idle_delete_after_h": activity.idle_delete_after_h,
        }
    return found


def deleted_endpoints(root: ArtifactUri, store_for: Callable[[ArtifactUri], ArtifactStore]) -> list[dict[str, Any]]:
    """Read the reaper's notes of endpoints it deleted for idleness, newest first.

    :param root: the artifact root.
    :param store_for: returns the store for a URI.
    """
    folder = root.join(*REAPED_ENDPOINTS)
    store = store_for(folder)
    keys = sorted(
        (o.relative_key for o in store.list_objects(folder) if o.relative_key.endswith(".json")), reverse=True
    )
    notes = [json.loads(store.read_bytes(folder.join(key))) for key in keys[:MAX_NOTES]]
    return sorted(notes, key=lambda n: str(n.get("deleted_at", "")), reverse=True)


def _iso(epoch_s: float | None) -> str:
    """Format a time in UTC to the second, or "" for None.

    :param epoch_s: seconds since the epoch, or None.
    """
    return "" if epoch_s is None else datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="seconds")
