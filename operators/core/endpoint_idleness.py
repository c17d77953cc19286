"""When an endpoint has served no request for too long: rules free of any engine or SDK."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from ml_lifecycle.core.endpoint_cost import SECONDS_PER_HOUR, FleetInterval
from ml_lifecycle.core.errors import SpecError

ENDPOINT_KIND = "endpoint"
# Where, under the artifact root, the reaper notes each endpoint it deleted for idleness (the page reads them).
REAPED_ENDPOINTS = ("reaper", "endpoints")


@dataclass(frozen=True)
class EndpointActivity:
    """One endpoint's size, age and requests, as its front (the local proxy, the load balancer) counts them.

    :param endpoint_name: the endpoint's name.
    :param instance_type: the serving instances' type ("" when unknown).
    :param instance_count: how many serving containers or instances run now.
    :param created_epoch_s: when the endpoint was created (its running cost counts from then).
    :param serving_since_epoch_s: when its current revision began serving (an update restarts the idle clock).
    :param counted_since_epoch_s: since when its front counts requests, or None when it keeps no count (an endpoint
        deployed before counting existed): then nobody can say it is idle.
    :param last_request_epoch_s: the last request its front counted, or None when it counted none (in the window
        it was asked about).
    :param idle_delete_after_h: the opt-in idle limit in hours, or None when the endpoint is never deleted for idleness.
    :param fleet: the stretches of time it ran instances (its running ones since their start, and the revisions it
        retired), which its running cost is counted from.
    """

    endpoint_name: str
    instance_type: str
    instance_count: int
    created_epoch_s: float
    serving_since_epoch_s: float
    counted_since_epoch_s: float | None
    last_request_epoch_s: float | None
    idle_delete_after_h: float | None
    fleet: tuple[FleetInterval, ...] = ()

    def idle_since_epoch_s(self) -> float | None:
        """Return since when the endpoint has served no request, or None when its front keeps no count."""
        if self.counted_since_epoch_s is None:
            return None
        active = [self.serving_since_epoch_s, self.counted_since_epoch_s]
        if self.last_request_epoch_s is not None:
            active.append(self.last_request_epoch_s)
        return max(active)


def idle_reason(activity: EndpointActivity, now_epoch_s: float) -> str | None:
    """Say why an endpoint may be deleted for idleness, or None to keep it.

    An endpoint is deleted only when it opted in (idle_delete_after_h), its front counts requests, and neither a
    request nor a deploy happened within the limit.

    :param activity: what its front says.
    :param now_epoch_s: the time now, in seconds since the epoch.
    """
    limit_h = activity.idle_delete_after_h
    idle_since = activity.idle_since_epoch_s()
    if limit_h is None or idle_since is None:
        return None
    idle_h = (now_epoch_s - idle_since) / SECONDS_PER_HOUR
    if idle_h <= limit_h:
        return None
    last = activity.last_request_epoch_s
    seen = f"its last request was at {_iso(last)}" if last is not None else "it served no request"
    return (
        f"idle for {idle_h:.2f} h, past idle_delete_after_h={limit_h:g}: {seen} "
        f"(serving its current revision since {_iso(activity.serving_since_epoch_s)})"
    )


def check_idle_delete_after_h(value: object) -> float | None:
    """Accept None (never deleted for idleness) or a positive number of hours.

    :param value: the idle_delete_after_h parameter.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise SpecError(
            "idle_delete_after_h",
            f"{value!r} is not a positive number of hours",
            "Write e.g. 24 to delete the endpoint after a day without requests, or None (default) to keep it",
        )
    return float(value)


def _iso(epoch_s: float) -> str:
    """Format a time in UTC, to the second.

    :param epoch_s: seconds since the epoch.
    """
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="seconds")
