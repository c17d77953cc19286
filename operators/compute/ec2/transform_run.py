"""One task instance's EC2 transform: reuse, reattach or launch, follow to the end, and always end the instances."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ml_lifecycle.agent.attempts import choose_attempt
from ml_lifecycle.compute.ec2.transform_jobs import Ec2TransformJobs
from ml_lifecycle.core.naming import RunIdentity
from ml_lifecycle.core.specs import TransformSpec
from ml_lifecycle.core.status import JobRecord, JobStatus
from ml_lifecycle.errors import TransformFailed

log = logging.getLogger(__name__)

LOG_TAIL_LINES = 30


def run_transform_on_ec2(
    jobs: Ec2TransformJobs,
    spec: TransformSpec,
    identity: RunIdentity,
    sink: Callable[[str], None],
    note_job: Callable[[str], Any],
) -> tuple[str, JobRecord]:
    """Run the task instance's transform on EC2 and return its name and Completed record; raise TransformFailed.

    A completed attempt is reused, one whose instances still run is reattached, a failed one is followed by a fresh
    attempt under the next name. The instances, security group and staging objects are removed on success and
    failure alike.

    :param jobs: the EC2 transform job manager.
    :param spec: the transform spec (compute="ec2").
    :param identity: the task instance.
    :param sink: the task log.
    :param note_job: told the job's name as soon as it is chosen (so on_kill can end the job).
    """
    name, record = start_transform_on_ec2(jobs, spec, identity, sink, note_job)
    if record is not None:
        return name, record
    try:
        record = jobs.follow(spec, name, sink)
    except BaseException:
        clean_up_keeping_error(jobs, spec, name)
        raise
    return name, finish_transform_on_ec2(jobs, spec, name, record)


def start_transform_on_ec2(
    jobs: Ec2TransformJobs,
    spec: TransformSpec,
    identity: RunIdentity,
    sink: Callable[[str], None],
    note_job: Callable[[str], Any],
) -> tuple[str, JobRecord | None]:
    """Reuse, reattach or launch the task instance's transform; return its name and, when reused, its record.

    A launch that fails removes what it started before the error is raised.

    :param jobs: the EC2 transform job manager.
    :param spec: the transform spec (compute="ec2").
    :param identity: the task instance.
    :param sink: the task log.
    :param note_job: told the job's name as soon as it is chosen (so on_kill can end the job).
    """
    attempt = choose_attempt(
        identity, lambda name: jobs.record(spec, name), jobs.is_running, lambda name: jobs.clean_up(spec, name)
    )
    name = attempt.job_name
    note_job(name)
    if attempt.action == "reuse" and attempt.record is not None:
        sink(f"Transform {name} already completed in an earlier try; its outputs stand")
        clean_up_keeping_error(jobs, spec, name)  # that try may have ended before its own cleanup
        return name, attempt.record
    if attempt.action == "attach":
        sink(f"Reattaching to transform {name}, whose instances still run")
        return name, None
    try:
        jobs.start(spec, name, identity.labels(), sink)
    except BaseException:
        clean_up_keeping_error(jobs, spec, name)
        raise
    return name, None


def finish_transform_on_ec2(
    jobs: Ec2TransformJobs, spec: TransformSpec, name: str, record: JobRecord | None, unfinished: str = ""
) -> JobRecord:
    """End what the transform left (instances, security group, staging) and return its record if it Completed.

    :param jobs: the EC2 transform job manager.
    :param spec: the transform spec.
    :param name: the job's name.
    :param record: its final record, or None when none was written (the wait ended first).
    :param unfinished: why the wait ended without a final record (the reason given when the record has none).
    """
    jobs.clean_up(spec, name)
    if record is None or record.status != JobStatus.COMPLETED:
        status = record.status if record is not None else "InProgress"
        reason = (record.failure_reason if record is not None else "") or unfinished or "no reason recorded"
        raise TransformFailed(
            f"Batch transform {name} {status}: {reason} (no .out was written for the inputs named)\n"
            + "\n".join(jobs.log_tail(name, LOG_TAIL_LINES))
        )
    return record


def clean_up_keeping_error(jobs: Ec2TransformJobs, spec: TransformSpec, job_name: str) -> None:
    """End what a failed job left; a cleanup error is only logged, so that the job's own error is the one raised.

    :param jobs: the EC2 transform job manager.
    :param spec: the transform spec.
    :param job_name: the job's name.
    """
    try:
        jobs.clean_up(spec, job_name)
    except Exception:
        log.exception("Cleanup of transform %s failed; the reaper ends what it left", job_name)
