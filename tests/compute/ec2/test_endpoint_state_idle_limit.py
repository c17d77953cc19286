"""An EC2 endpoint's idle limit is each revision's: a state written before revisions kept it reads the creation's."""

from __future__ import annotations

import pytest

from ml_lifecycle.compute.ec2.endpoint_revisions import revision_owner
from ml_lifecycle.compute.ec2.endpoint_state import EndpointState, Revision
from ml_lifecycle.core import labels

OWNER = {labels.DAG_ID: "d", labels.IDLE_DELETE_AFTER_H: "24.0"}


@pytest.mark.parametrize(
    ("live", "expected_h"),
    [
        ({"revision": "1", "job_name": "e-1"}, 24.0),  # written before revisions kept it: the creation's limit
        ({"revision": "1", "job_name": "e-1", "idle_delete_after_h": None}, None),  # an update opted out
        ({"revision": "1", "job_name": "e-1", "idle_delete_after_h": 48.0}, 48.0),  # an update raised it
    ],
    ids=["old_state", "opted_out", "raised"],
)
def test_the_live_revision_carries_its_own_idle_limit(live, expected_h):
    state = EndpointState.from_dict(
        {"endpoint_name": "e", "status": "InService", "region": "r", "owner": OWNER, "live": live}
    )
    assert state.live is not None and state.live.idle_delete_after_h == expected_h


@pytest.mark.parametrize(
    ("limit_h", "expected"),
    [(None, None), (48.0, "48.0")],
    ids=["opted_out", "raised"],
)
def test_a_revisions_instances_are_labelled_with_its_own_limit(limit_h, expected):
    found = revision_owner(OWNER, "e", Revision("2", "e-2", idle_delete_after_h=limit_h))
    assert found.get(labels.IDLE_DELETE_AFTER_H) == expected
    assert (found[labels.DAG_ID], found[labels.ENDPOINT], found[labels.REVISION]) == ("d", "e", "2")
