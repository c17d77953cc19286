"""Revision ids: the UTC second of the deploy, always later than the endpoint's newest revision (they name its
target groups and instances, so two deploys within one second must not share one)."""

from __future__ import annotations

import calendar
import time

import pytest

from ml_lifecycle.compute.ec2.endpoint_state import EndpointState, Revision, new_revision_id, newest_revision

NOW = calendar.timegm(time.strptime("20261208013342", "%Y%m%d%H%M%S")) + 0.7


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (None, "20261208013342"),  # a new endpoint: this second
        ("20261208013300", "20261208013342"),  # an older revision: this second
        ("20261208013342", "20261208013343"),  # deployed this same second: the next one
        ("20261208013359", "20261208013400"),  # a revision ahead of this clock: the one after it (minutes carry)
        ("20261231235959", "20270101000000"),  # the year carries
    ],
)
def test_a_revision_id_is_this_second_or_the_one_after_the_newest(after, expected):
    assert new_revision_id(after=after, now_epoch_s=NOW) == expected


def _revision(revision: str) -> Revision:
    return Revision(revision, f"ep-{revision}", model_uri="s3://b/m.tar.gz", image_uri="i", instance_count=1)


@pytest.mark.parametrize(
    ("live", "pending", "history", "expected"),
    [
        (None, None, [], None),
        ("20260101000000", None, [], "20260101000000"),
        ("20260101000000", "20260101000005", [], "20260101000005"),
        # A rolled-back revision is only in the history: still newer than the serving one.
        ("20260101000000", None, [{"revision": "20260101000009", "outcome": "rolled_back"}], "20260101000009"),
    ],
)
def test_the_newest_revision_counts_the_serving_the_pending_and_the_history(live, pending, history, expected):
    state = EndpointState(
        endpoint_name="ep",
        status="InService",
        region="us-east-1",
        live=_revision(live) if live else None,
        pending=_revision(pending) if pending else None,
        history=history,
    )
    assert newest_revision(state) == expected


def test_a_new_endpoint_has_no_newest_revision():
    assert newest_revision(None) is None
