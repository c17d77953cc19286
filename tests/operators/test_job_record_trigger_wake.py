"""JobRecordTrigger wakes on a secondary state (Interrupted) only for a record written after wake_after_epoch_s."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from ml_lifecycle.core.clock import utc_now_iso
from ml_lifecycle.core.status import JobRecord
from ml_lifecycle.triggers.job_record import JobRecordTrigger


def _first_event(trigger: JobRecordTrigger) -> dict[str, Any]:
    """Run the trigger until its first event and return the payload.

    :param trigger: the trigger.
    """

    async def first() -> Any:
        return await trigger.run().__anext__()

    return asyncio.run(first()).payload


@pytest.mark.parametrize(
    ("wake_after_offset_s", "expected"),
    [(-60.0, "Interrupted"), (+60.0, "")],
    ids=["written-after-wakes", "written-before-waits-until-the-deadline"],
)
def test_an_interrupted_record_wakes_only_when_written_after_the_relaunch(tmp_path, wake_after_offset_s, expected):
    record = JobRecord(job_name="j", kind="training", secondary_status="Interrupted", updated_at=utc_now_iso())
    path = tmp_path / "status.json"
    path.write_text(json.dumps(record.to_dict()))
    trigger = JobRecordTrigger(
        record_uri=f"file://{path}",
        job_name="j",
        aws_conn_id=None,
        poll_interval_s=0.05,
        deadline_epoch_s=time.time() + 0.5,
        wake_on_secondary=("Interrupted",),
        wake_after_epoch_s=time.time() + wake_after_offset_s,
    )
    payload = _first_event(trigger)
    assert payload["status"] == ("InProgress" if expected else "timeout")
    assert payload.get("secondary_status", "") == expected
    rebuilt = JobRecordTrigger(**trigger.serialize()[1])
    assert rebuilt.wake_after_epoch_s == trigger.wake_after_epoch_s
