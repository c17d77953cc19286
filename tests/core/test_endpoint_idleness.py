"""The idle-endpoint rule: who is deleted for idleness, who is kept, and why."""

from __future__ import annotations

import pytest

from ml_lifecycle.core.endpoint_idleness import (
    EndpointActivity,
    check_idle_delete_after_h,
    idle_reason,
)
from ml_lifecycle.errors import SpecError

NOW = 1_800_000_000.0
H = 3600.0


def _activity(
    limit_h: float | None = 2.0,
    serving_since: float = NOW - 10 * H,
    counted_since: float | None = NOW - 10 * H,
    last_request: float | None = None,
) -> EndpointActivity:
    return EndpointActivity("ep", "ml.m5.large", 2, NOW - 20 * H, serving_since, counted_since, last_request, limit_h)


@pytest.mark.parametrize(
    ("activity", "expected"),
    [
        (_activity(last_request=NOW - 3 * H), "last request was at"),  # idle 3 h, limit 2 h
        (_activity(last_request=None), "served no request"),  # counted 10 h, nothing came
        (_activity(last_request=NOW - 1 * H), None),  # busy within the limit
        (_activity(limit_h=None, last_request=None), None),  # never opted in
        (_activity(counted_since=None, last_request=None), None),  # its front keeps no count: nobody can tell
        (_activity(serving_since=NOW - 1 * H, last_request=None), None),  # a deploy an hour ago restarts the clock
        (_activity(counted_since=NOW - 1 * H, last_request=None), None),  # counting began an hour ago
        (_activity(limit_h=0.5, last_request=NOW - 0.4 * H), None),
        (_activity(limit_h=0.5, last_request=NOW - 0.6 * H), "past idle_delete_after_h=0.5"),
    ],
)
def test_idle_reason(activity: EndpointActivity, expected: str | None) -> None:
    reason = idle_reason(activity, NOW)
    assert (reason is None) if expected is None else (expected in str(reason))


@pytest.mark.parametrize("value", [0, -1, "2", True, float("nan")])
def test_a_bad_idle_limit_is_refused_with_how_to_fix_it(value: object) -> None:
    with pytest.raises(SpecError, match=r"idle_delete_after_h.*Write e\.g\. 24"):
        check_idle_delete_after_h(value)


def test_no_idle_limit_or_a_positive_one_is_accepted() -> None:
    assert check_idle_delete_after_h(None) is None
    assert check_idle_delete_after_h(24) == 24.0
