"""The weight schedule of a blue/green endpoint update, and the refusal of bad traffic_shift dicts."""

from __future__ import annotations

from typing import Any

import pytest

from ml_lifecycle.core.ec2.traffic_shift import ShiftStep, TrafficShift, check_error_rate
from ml_lifecycle.errors import SpecError


@pytest.mark.parametrize(
    ("value", "steps"),
    [
        (None, [(100, 0)]),
        ({"type": "all_at_once"}, [(100, 0)]),
        ({"type": "canary", "canary_percent": 10, "wait_s": 300}, [(10, 300), (100, 0)]),
        ({"type": "canary", "canary_percent": "99", "wait_s": "0"}, [(99, 0), (100, 0)]),
        ({"type": "linear", "step_percent": 20, "wait_s": 60}, [(20, 60), (40, 60), (60, 60), (80, 60), (100, 0)]),
        ({"type": "linear", "step_percent": 30, "wait_s": 5}, [(30, 5), (60, 5), (90, 5), (100, 0)]),
        ({"type": "linear", "step_percent": 50, "wait_s": 1}, [(50, 1), (100, 0)]),
        ({"type": "linear", "step_percent": 99, "wait_s": 1}, [(99, 1), (100, 0)]),
        ({"type": "linear", "step_percent": 1, "wait_s": 0}, [(n, 0) for n in range(1, 101)]),
    ],
)
def test_steps(value: dict[str, Any] | None, steps: list[tuple[int, int]]) -> None:
    policy = TrafficShift.build(value)
    assert policy.steps() == [ShiftStep(p, w) for p, w in steps]
    assert TrafficShift.build(policy.to_dict()) == policy


def test_every_schedule_rises_and_ends_at_100() -> None:
    for kind, key in (("canary", "canary_percent"), ("linear", "step_percent")):
        for percent in range(1, 100):
            shares = [s.green_percent for s in TrafficShift.build({"type": kind, key: percent, "wait_s": 1}).steps()]
            assert shares == sorted(set(shares)) and shares[-1] == 100 and shares[0] == percent


@pytest.mark.parametrize(
    ("value", "mentions"),
    [
        ("canary", "not a mapping"),
        ({"type": "blue_green"}, "unknown"),
        ({}, "None"),
        ({"type": "canary", "canary_percent": 10}, "lacks ['wait_s']"),
        ({"type": "canary", "step_percent": 10, "wait_s": 1}, "unknown keys ['step_percent']"),
        ({"type": "all_at_once", "wait_s": 5}, "unknown keys ['wait_s']"),
        ({"type": "canary", "canary_percent": 0, "wait_s": 1}, "out of range"),
        ({"type": "canary", "canary_percent": 100, "wait_s": 1}, "out of range"),
        ({"type": "linear", "step_percent": 20, "wait_s": -1}, "out of range"),
        ({"type": "linear", "step_percent": 2.5, "wait_s": 1}, "not a whole number"),
    ],
)
def test_bad_policies_say_what_to_write(value: Any, mentions: str) -> None:
    with pytest.raises(SpecError, match=r"^traffic_shift") as info:
        TrafficShift.build(value)
    assert mentions in str(info.value)


@pytest.mark.parametrize(
    ("value", "ok"), [(0, True), (0.01, True), (1, True), (-0.1, False), (1.5, False), ("0.1", False), (True, False)]
)
def test_error_rate_threshold(value: Any, ok: bool) -> None:
    if ok:
        assert check_error_rate(value) == float(value)
    else:
        with pytest.raises(SpecError, match=r"^max_error_rate"):
            check_error_rate(value)
