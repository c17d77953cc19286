"""The compute="ec2" steps of BatchTransformOperator: run or defer, and resume after a deferral."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from ml_lifecycle.core import checks
from ml_lifecycle.core.specs import TransformSpec

# Airflow's timeout of a deferral comes this long after the trigger's own deadline (see defer_on_ec2).
DEFER_SLACK_S = 300


def run_on_ec2(operator: Any, spec: TransformSpec, identity: Any) -> dict[str, Any]:
    """Run the transform on instances launched for it, or hand the wait to the triggerer when deferrable.

    :param operator: the BatchTransformOperator.
    :param spec: the transform spec (compute="ec2").
    :param identity: the task instance's identity.
    """
    from ml_lifecycle.compute.ec2.transform_run import run_transform_on_ec2, start_transform_on_ec2
    from ml_lifecycle.core.ec2_checks import check_transform_reachable_from_ec2
    from ml_lifecycle.runtime import fail_fast_unless_retryable

    check_transform_reachable_from_ec2(spec)
    note_job = lambda job: setattr(operator, "_job_name", job)  # noqa: E731
    jobs = operator._ec2_jobs()
    with fail_fast_unless_retryable():
        if not operator.deferrable:
            name, record = run_transform_on_ec2(jobs, spec, identity, operator.log.info, note_job)
            return operator._result(spec, name, record)
        name, reused = start_transform_on_ec2(jobs, spec, identity, operator.log.info, note_job)
    if reused is not None:
        return operator._result(spec, name, reused)
    defer_on_ec2(operator, spec, name, jobs.launch_time_s(spec, name))
    raise AssertionError("defer() raises TaskDeferred")  # pragma: no cover


def defer_on_ec2(operator: Any, spec: TransformSpec, job_name: str, launched_at_s: float) -> None:
    """Hand the wait for the transform's record to the triggerer, until max_runtime_s and a margin after launch.

    Airflow's own timeout of the deferral comes later than the trigger's deadline, so that the task always resumes
    (and ends the instances) with the trigger's ``timeout`` event rather than failing without it.

    :param operator: the BatchTransformOperator.
    :param spec: the transform spec (compute="ec2").
    :param job_name: the job's name.
    :param launched_at_s: when its instances were launched (a retry that reattached keeps the first launch).
    """
    from ml_lifecycle.agent.transform import transform_record_uri
    from ml_lifecycle.compute.ec2.transform_jobs import DEADLINE_MARGIN_S
    from ml_lifecycle.triggers.job_record import JobRecordTrigger

    deadline_epoch_s = launched_at_s + checks.check_max_runtime_s(operator.max_runtime_s) + DEADLINE_MARGIN_S
    wait_s = max(deadline_epoch_s - time.time(), 0.0)
    operator.log.info("Transform %s: waiting in the triggerer for its record (at most %.0f s)", job_name, wait_s)
    trigger = JobRecordTrigger(
        record_uri=transform_record_uri(spec.output_uri, job_name),
        job_name=job_name,
        aws_conn_id=operator.aws_conn_id,
        poll_interval_s=operator.poll_interval_s,
        deadline_epoch_s=deadline_epoch_s,
        watch_instances=True,
    )
    operator.defer(
        trigger=trigger,
        method_name="execute_complete",
        kwargs={"job_name": job_name},
        timeout=timedelta(seconds=wait_s + DEFER_SLACK_S + 5 * operator.poll_interval_s),
    )


def resume_on_ec2(operator: Any, event: dict[str, Any], job_name: str) -> dict[str, Any]:
    """After a deferral: show the job's log, end its instances, then return its outputs or raise TransformFailed.

    :param operator: the BatchTransformOperator.
    :param event: the trigger's event (``status`` is the record's, or ``timeout``, or ``lost``).
    :param job_name: the job's name.
    """
    from ml_lifecycle.compute.ec2.transform_run import clean_up_keeping_error, finish_transform_on_ec2

    spec = operator._spec()
    jobs = operator._ec2_jobs()
    operator._job_name = job_name
    try:
        jobs.show_logs(job_name, operator.log.info)
        record = jobs.record(spec, job_name)
    except BaseException:
        clean_up_keeping_error(jobs, spec, job_name)  # the instances end even when AWS fails us here
        raise
    unfinished = ""
    if event.get("status") == "timeout":
        unfinished = "no final record within max_runtime_s and the margin; its instances were ended"
    elif event.get("status") == "lost":
        unfinished = str(event.get("failure_reason") or "its instances ended")
    if unfinished:
        operator.log.error("Transform %s: %s", job_name, unfinished)
    return operator._result(spec, job_name, finish_transform_on_ec2(jobs, spec, job_name, record, unfinished))
