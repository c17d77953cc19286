"""An endpoint's running cost from the stretches it ran instances: scale-out, updates and unknown prices."""

from __future__ import annotations

import pytest

from ml_lifecycle.core.endpoint_cost import FleetInterval, estimated_usd, instance_hours

NOW = 1_800_000_000.0
H = 3600.0
PRICES = {"m5.large": 0.1, "g5.xlarge": 1.0}


def _running(hours_ago: float, count: int = 1, instance_type: str = "m5.large") -> FleetInterval:
    """Instances running since some hours ago."""
    return FleetInterval(NOW - hours_ago * H, None, count, instance_type)


def _ended(from_h_ago: float, to_h_ago: float, count: int = 1, instance_type: str = "m5.large") -> FleetInterval:
    """Instances that ran from some hours ago to some hours ago."""
    return FleetInterval(NOW - from_h_ago * H, NOW - to_h_ago * H, count, instance_type)


@pytest.mark.parametrize(
    ("intervals", "hours", "usd"),
    [
        ([], 0.0, 0.0),
        ([_running(20, count=2)], 40.0, 4.0),  # 2 instances for 20 h
        # Scaled out from 2 to 4 instances 1 h ago: the 2 new ones count 1 h each, not the endpoint's 20 h.
        ([_running(20), _running(20), _running(1), _running(1)], 42.0, 4.2),
        # Updated 5 h ago from 2 m5.large (20 h ago to 5 h ago) to 1 g5.xlarge, with an overlap of the rollout.
        ([_ended(20, 5, count=2), _running(5.5, instance_type="g5.xlarge")], 35.5, 3.0 + 5.5),
        ([_running(-1)], 0.0, 0.0),  # a start after now (a clock behind) counts nothing
        ([_ended(2, -1)], 2.0, 0.2),  # an end after now counts to now
        ([_running(3, instance_type="x9.huge")], 3.0, None),  # a type without a price: no estimate
        ([_running(3), _running(-1, instance_type="x9.huge")], 3.0, 0.3),  # ...unless it has not run yet
    ],
    ids=["none", "steady", "scale_out", "update", "future", "ends_later", "unknown_price", "unknown_not_run"],
)
def test_instance_hours_and_cost(intervals: list[FleetInterval], hours: float, usd: float | None) -> None:
    assert instance_hours(intervals, NOW) == pytest.approx(hours)
    found = estimated_usd(intervals, NOW, PRICES.get)
    assert found == (None if usd is None else pytest.approx(usd))
