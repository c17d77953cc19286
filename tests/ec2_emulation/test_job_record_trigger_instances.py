"""JobRecordTrigger watching a job's instances (moto server): a job whose instances end without a final record
wakes the task as ``lost`` once they have been gone for the grace period; a live one waits for its record."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ml_lifecycle.core.clock import utc_now_iso
from ml_lifecycle.core.lost_instances import LOST_REASON
from ml_lifecycle.core.status import JobRecord
from ml_lifecycle.triggers.job_record import JobRecordTrigger


def _first_event(trigger: JobRecordTrigger) -> dict[str, Any]:
    """Run the trigger, rebuilt from its serialized form as the triggerer does, until its first event.

    :param trigger: the trigger.
    """
    rebuilt = JobRecordTrigger(**trigger.serialize()[1])

    async def first() -> Any:
        return await rebuilt.run().__anext__()

    return asyncio.run(first()).payload


def _instance(aws: SimpleNamespace, job_name: str) -> str:
    """Launch one moto instance tagged as the job's and return its id.

    :param aws: the moto clients.
    :param job_name: the job's name.
    """
    image = aws.ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    tags = [{"ResourceType": "instance", "Tags": [{"Key": "ml-lifecycle.job", "Value": job_name}]}]
    reply = aws.ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, TagSpecifications=tags)
    return str(reply["Instances"][0]["InstanceId"])


def _write(path: Path, status: str) -> None:
    """Write a job record.

    :param path: the status.json path.
    :param status: the job's status.
    """
    record = JobRecord(job_name=path.parent.name, kind="transform", status=status, updated_at=utc_now_iso())
    path.write_text(json.dumps(record.to_dict()))


def _trigger(path: Path, job_name: str) -> JobRecordTrigger:
    """Watch a record and the job's instances, with a short grace period.

    :param path: the status.json path.
    :param job_name: the job's name.
    """
    return JobRecordTrigger(
        record_uri=f"file://{path}",
        job_name=job_name,
        poll_interval_s=0.1,
        deadline_epoch_s=time.time() + 60,
        compute="ec2",
        lost_grace_s=0.5,
    )


def test_instances_gone_without_a_final_record_wake_the_task_as_lost(aws, tmp_path):
    job_name = f"lost-{uuid.uuid4().hex[:8]}"
    path = tmp_path / job_name / "status.json"
    path.parent.mkdir()
    _write(path, "InProgress")
    aws.ec2.terminate_instances(InstanceIds=[_instance(aws, job_name)])

    payload = _first_event(_trigger(path, job_name))

    assert payload == {"status": "lost", "job_name": job_name, "failure_reason": LOST_REASON}


def test_a_live_instance_keeps_the_trigger_waiting_for_the_record(aws, tmp_path):
    job_name = f"live-{uuid.uuid4().hex[:8]}"
    path = tmp_path / job_name / "status.json"
    path.parent.mkdir()
    _write(path, "InProgress")
    instance = _instance(aws, job_name)
    # Completed well after the grace period: only a live instance keeps the trigger from calling the job lost.
    finisher = threading.Timer(2.0, _write, args=(path, "Completed"))
    finisher.start()
    try:
        payload = _first_event(_trigger(path, job_name))
    finally:
        finisher.cancel()
        aws.ec2.terminate_instances(InstanceIds=[instance])

    assert payload["status"] == "Completed"
