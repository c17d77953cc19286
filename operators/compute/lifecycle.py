"""The one job lifecycle of every backend: choose the attempt, launch or reattach, wait or defer, clean up.

Training and transform (and any later kind) run through here on every backend. A completed attempt is reused, a
live one reattached, a failed one followed by a fresh attempt; whatever the job created is removed on success and
failure alike, and a failing cleanup never hides the job's own error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from ml_lifecycle.compute.base import JobBackend, JobOutcome, LogSink, RecordWait
from ml_lifecycle.core.attempts import choose_attempt
from ml_lifecycle.core.naming import RunIdentity
from ml_lifecycle.core.status import JobRecord, JobStatus, WaitOutcome, is_terminal

log = logging.getLogger(__name__)

LOG_TAIL_LINES = 30
# Airflow's own timeout of a deferral comes this long after the trigger's deadline, so that the task always
# resumes with the trigger's ``timeout`` event (and cleans up) rather than failing without it.
DEFER_SLACK_S = 300

# Hands the wait to the triggerer: (what to wait for, Airflow's timeout in seconds); raises TaskDeferred.
Deferrer = Callable[[RecordWait, float], NoReturn]


def run_job(
    jobs: JobBackend,
    spec: Any,
    identity: RunIdentity,
    sink: LogSink,
    *,
    note_job: Callable[[str], None],
    wait: bool = True,
    defer: Deferrer | None = None,
    stage: Callable[[], None] | None = None,
) -> JobOutcome:
    """Run the task instance's job to its end (or start it, or defer its wait) and return its outcome.

    :param jobs: the backend's job runner for the job's kind.
    :param spec: the job's spec.
    :param identity: the task instance.
    :param sink: the task log.
    :param note_job: told the job's name as soon as it is chosen (so on_kill and the links know it).
    :param wait: wait for the job to end; False returns InProgress as soon as it runs.
    :param defer: hands the wait to the triggerer; None waits in this process.
    :param stage: puts what only this machine has where the job reads it, once the backend's checks passed.
    """
    jobs.preflight(spec)
    if stage is not None:
        stage()
    title = jobs.kind.title
    attempt = choose_attempt(
        identity,
        lambda name: jobs.find(spec, name),
        jobs.is_alive,
        lambda name: clean_up_keeping_error(jobs, spec, name),
    )
    name = attempt.job_name
    note_job(name)
    if attempt.action == "reuse" and attempt.record is not None:
        sink(f"{title} {name} already completed in an earlier try; reusing its outputs")
        clean_up_keeping_error(jobs, spec, name)  # that try may have ended before its own cleanup
        return outcome_of(jobs, spec, name, attempt.record)
    if attempt.action == "attach":
        sink(f"{title} {name} still runs from an earlier try; reattaching to it")
    else:
        try:
            jobs.launch(spec, name, identity.labels(), sink)
        except BaseException:
            clean_up_keeping_error(jobs, spec, name)
            raise
    if not wait:
        return JobOutcome(name, JobStatus.IN_PROGRESS, jobs.record_uri(spec, name))
    if defer is not None:
        defer_wait(jobs, spec, name, sink, defer)
    try:
        record = jobs.wait(spec, name, sink)
    except BaseException:
        clean_up_keeping_error(jobs, spec, name)
        raise
    return finish(jobs, spec, name, record)


def start_named_job(
    jobs: JobBackend, spec: Any, job_name: str, owner: Mapping[str, str], sink: LogSink
) -> JobRecord | None:
    """Start a job whose name its caller chose (a tuning trial), unless that name ran or runs already.

    A job with a record, or whose runner lives without one yet, is left as it is (its caller reads or follows it);
    only a name nothing knows is launched, and its launch is left to run on without this process. A failed launch
    removes what it made.

    :param jobs: the backend's job runner for the job's kind.
    :param spec: the job's spec.
    :param job_name: the job's name.
    :param owner: the Airflow identity labels.
    :param sink: the task log.
    """
    record = jobs.find(spec, job_name)
    if record is not None or jobs.is_alive(job_name, None):
        return record
    try:
        jobs.launch(spec, job_name, owner, sink)
    except BaseException:
        clean_up_keeping_error(jobs, spec, job_name)
        raise
    jobs.release(job_name)
    return None


def defer_wait(jobs: JobBackend, spec: Any, job_name: str, sink: LogSink, defer: Deferrer) -> NoReturn:
    """Hand the wait for the job to the triggerer, until the backend's deadline for it.

    :param jobs: the backend's job runner.
    :param spec: the job's spec.
    :param job_name: the job's name.
    :param sink: the task log.
    :param defer: raises TaskDeferred.
    """
    deadline_epoch_s = jobs.deadline_epoch_s(spec, job_name)
    wait_s = max(deadline_epoch_s - time.time(), 0.0)
    sink(f"{jobs.kind.title} {job_name}: waiting in the triggerer (at most {wait_s:.0f} s)")
    defer(jobs.record_wait(spec, job_name, deadline_epoch_s), wait_s + DEFER_SLACK_S)


def resume_job(
    jobs: JobBackend, spec: Any, job_name: str, event: Mapping[str, Any], sink: LogSink, defer: Deferrer
) -> JobOutcome:
    """After a deferral: show the job's log, defer again when it runs on (a spot relaunch), else finish it.

    :param jobs: the backend's job runner.
    :param spec: the job's spec.
    :param job_name: the job's name.
    :param event: the trigger's event (``status`` is the record's, or ``timeout``, or ``lost``).
    :param sink: the task log.
    :param defer: raises TaskDeferred.
    """
    try:
        runs_on = jobs.resume(spec, job_name, event, sink)
        record = None if runs_on else jobs.find(spec, job_name)
    except BaseException:
        clean_up_keeping_error(jobs, spec, job_name)  # what the job runs ends even when reading about it fails
        raise
    if runs_on:
        defer_wait(jobs, spec, job_name, sink, defer)
    lost = event.get("status") == WaitOutcome.LOST
    return finish(jobs, spec, job_name, record, str(event.get("failure_reason") or jobs.lost_reason) if lost else "")


def finish(jobs: JobBackend, spec: Any, job_name: str, record: JobRecord | None, lost: str = "") -> JobOutcome:
    """Remove what the job created and return its outcome, or raise its kind's failure with its log's last lines.

    A record that is not final means the wait ended first: the job was lost (``lost`` says why), or it ran past its
    deadline and is stopped here, as SageMaker stops a job at its MaxRuntimeInSeconds. A failing cleanup is raised
    only when the job itself completed; otherwise the job's own failure is the error.

    :param jobs: the backend's job runner.
    :param spec: the job's spec.
    :param job_name: the job's name.
    :param record: its record as the wait left it, or None when none was written.
    :param lost: why the job counts as lost, when it does ("" when its wait ran out or its record is final).
    """
    if record is not None and record.status == JobStatus.COMPLETED:
        jobs.clean_up(spec, job_name)
        return outcome_of(jobs, spec, job_name, record)
    final = record is not None and is_terminal(record.status)
    if not final:
        keeping_error(lambda: jobs.stop(spec, job_name), f"Stopping {job_name}")
    tail = _log_tail(jobs, spec, job_name)
    clean_up_keeping_error(jobs, spec, job_name)
    if final or lost:
        raise jobs.kind.failure(job_name, record, "" if final else lost, tail)
    raise jobs.kind.overdue(job_name, tail)


def stop_job(jobs: JobBackend, spec: Any, job_name: str) -> None:
    """Stop the job (what it saved is kept) and remove what it created: a killed task's ``on_kill``.

    A failing stop is the error raised, after the cleanup ran anyway; a failing cleanup alone is raised.

    :param jobs: the backend's job runner.
    :param spec: the job's spec.
    :param job_name: the job's name.
    """
    try:
        jobs.stop(spec, job_name)
    except BaseException:
        clean_up_keeping_error(jobs, spec, job_name)
        raise
    jobs.clean_up(spec, job_name)


def outcome_of(jobs: JobBackend, spec: Any, job_name: str, record: JobRecord) -> JobOutcome:
    """Return what a completed job reports.

    :param jobs: the backend's job runner.
    :param spec: the job's spec.
    :param job_name: the job's name.
    :param record: its Completed record.
    """
    return JobOutcome(
        job_name=record.job_name or job_name,
        status=record.status,
        record_uri=jobs.record_uri(spec, job_name),
        outputs=jobs.kind.outputs(spec, record),
        metrics=dict(record.metrics),
    )


def clean_up_keeping_error(jobs: JobBackend, spec: Any, job_name: str) -> None:
    """Remove what a job created; a failure is only logged, so that the error already under way is the one raised.

    :param jobs: the backend's job runner.
    :param spec: the job's spec.
    :param job_name: the job's name.
    """
    keeping_error(lambda: jobs.clean_up(spec, job_name), f"Cleanup of {job_name}")


def keeping_error(call: Callable[[], Any], what: str) -> None:
    """Run call; log its failure instead of raising it (the orphan reaper ends what it leaves).

    :param call: the cleanup step.
    :param what: what it does, for the log.
    """
    try:
        call()
    except Exception:
        log.exception("%s failed; the orphan reaper removes what it left", what)


def _log_tail(jobs: JobBackend, spec: Any, job_name: str) -> str:
    """Return the job's last log lines for its failure message ("" when they cannot be read).

    :param jobs: the backend's job runner.
    :param spec: the job's spec.
    :param job_name: the job's name.
    """
    try:
        return "\n".join(jobs.logs(spec, job_name, LOG_TAIL_LINES))
    except Exception as err:
        log.warning("Cannot read the log of %s: %s", job_name, err)
        return ""
