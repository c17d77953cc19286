"""The compute="ec2" steps of TrainOnEC2Operator: run or reattach, and resume after a deferral."""

from __future__ import annotations

import time
from typing import Any

from ml_lifecycle.core.specs import TrainingSpec


def run_on_ec2(operator: Any, spec: TrainingSpec, identity: Any) -> dict[str, Any]:
    """Run the job on instances that exist only while it runs; they are ended on success and failure alike.

    :param operator: the TrainOnEC2Operator.
    :param spec: the training spec (compute="ec2").
    :param identity: the task instance's identity.
    """
    from ml_lifecycle.agent.attempts import choose_attempt
    from ml_lifecycle.core.ec2_checks import check_reachable_from_ec2
    from ml_lifecycle.runtime import fail_fast_unless_retryable

    check_reachable_from_ec2(spec)
    jobs = operator._ec2_jobs(spec)
    attempt = choose_attempt(
        identity, lambda name: jobs.record(spec, name), jobs.is_running, lambda name: jobs.clean_up(spec, name)
    )
    operator._job_name = attempt.job_name
    log = operator.log
    if attempt.action == "reuse":
        log.info("Training job %s already completed in an earlier try; reusing its outputs", attempt.job_name)
        return operator._finish(spec, jobs, attempt.job_name)
    with fail_fast_unless_retryable():
        if attempt.action == "attach":
            log.info("Reattaching to training job %s, whose instances still run", attempt.job_name)
        else:
            jobs.start(spec, attempt.job_name, identity.labels(), log.info)
        if not operator.wait_for_completion:
            return {"job_name": attempt.job_name, "status": "InProgress", "record_uri": operator._record_uri(spec)}
        if operator.deferrable:
            operator._defer(spec, attempt.job_name)
        try:
            jobs.follow(spec, attempt.job_name, identity.labels(), log.info)
        finally:
            jobs.clean_up(spec, attempt.job_name)
    return operator._finish(spec, jobs, attempt.job_name)


def resume_on_ec2(operator: Any, context: Any, event: dict[str, Any], spec: TrainingSpec, job_name: str) -> Any:
    """After a deferral: show the log; relaunch and defer again after a spot interruption, else clean up.

    :param operator: the TrainOnEC2Operator.
    :param context: the Airflow context.
    :param event: the trigger's event.
    :param spec: the training spec (compute="ec2").
    :param job_name: the job's name.
    """
    from ml_lifecycle.runtime import fail_fast_unless_retryable, identity_from_context

    jobs = operator._ec2_jobs(spec)
    jobs.show_logs(job_name, operator.log.info)
    if event.get("secondary_status") == "Interrupted" and event.get("status") == "InProgress":
        with fail_fast_unless_retryable():
            jobs.relaunch_after_interruption(spec, job_name, identity_from_context(context).labels(), operator.log.info)
        operator._defer(spec, job_name, wake_after_epoch_s=time.time())
    jobs.clean_up(spec, job_name)
    return jobs
