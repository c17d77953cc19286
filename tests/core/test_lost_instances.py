"""track_gone: a job is lost once none of its instances has been alive for the grace period."""

from __future__ import annotations

import pytest

from ml_lifecycle.core.lost_instances import track_gone


@pytest.mark.parametrize(
    ("any_alive", "gone_since_s", "now_s", "expected"),
    [
        (True, None, 100.0, (None, False)),  # alive: nothing to track
        (True, 90.0, 100.0, (None, False)),  # alive again (a relaunch booted): the clock resets
        (False, None, 100.0, (100.0, False)),  # first seen gone: the clock starts
        (False, 90.0, 100.0, (90.0, False)),  # gone 10 s of 30
        (False, 70.0, 100.0, (70.0, True)),  # gone exactly the grace period: lost
        (False, 10.0, 100.0, (10.0, True)),
    ],
)
def test_gone_for_the_grace_period_is_lost(any_alive, gone_since_s, now_s, expected):
    assert track_gone(any_alive, gone_since_s, now_s, grace_s=30.0) == expected
