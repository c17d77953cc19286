"""What an endpoint has cost so far, from the stretches of time it ran instances: rules free of any engine or SDK."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class FleetInterval:
    """A stretch of time during which an endpoint ran a number of instances of one type.

    :param start_epoch_s: when it began (seconds since the epoch).
    :param end_epoch_s: when it ended, or None while it lasts.
    :param instance_count: how many instances ran through it.
    :param instance_type: their type ("" when unknown).
    """

    start_epoch_s: float
    end_epoch_s: float | None
    instance_count: int
    instance_type: str

    def hours(self, now_epoch_s: float) -> float:
        """Return its instance-hours up to now (nothing before its start, nothing after now).

        :param now_epoch_s: the time now, in seconds since the epoch.
        """
        end_s = now_epoch_s if self.end_epoch_s is None else min(self.end_epoch_s, now_epoch_s)
        return max(self.instance_count, 0) * max(end_s - self.start_epoch_s, 0.0) / SECONDS_PER_HOUR


def instance_hours(intervals: Iterable[FleetInterval], now_epoch_s: float) -> float:
    """Return the instance-hours of every interval up to now.

    :param intervals: the endpoint's intervals (they may overlap: two revisions run together during an update).
    :param now_epoch_s: the time now, in seconds since the epoch.
    """
    return sum(interval.hours(now_epoch_s) for interval in intervals)


def estimated_usd(
    intervals: Iterable[FleetInterval], now_epoch_s: float, hourly_usd: Callable[[str], float | None]
) -> float | None:
    """Return each interval's instance-hours times its type's hourly price, summed; None when a price is unknown.

    :param intervals: the endpoint's intervals.
    :param now_epoch_s: the time now, in seconds since the epoch.
    :param hourly_usd: the hourly price of one instance of a type, or None when the type has none.
    """
    total = 0.0
    for interval in intervals:
        hours = interval.hours(now_epoch_s)
        if hours == 0.0:
            continue
        price = hourly_usd(interval.instance_type) if interval.instance_type else None
        if price is None:
            return None
        total += price * hours
    return total
