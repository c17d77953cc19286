"""The job contract every backend meets, driven through the shared job lifecycle (as every operator drives it).

For training, transform and processing on each backend: a completed job is reused, a running one reattached, a lost one
noticed; on_kill stops and cleans; a deferred job resumes and cleans; a failed job whose cleanup fails too still
reports the job's own error. "Nothing left" means nothing of the job runs (containers, instances).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any, NoReturn

import pytest
from support.helpers import task_context

from ml_lifecycle.base import identity_from_context
from ml_lifecycle.compute.base import JobBackend, RecordWait
from ml_lifecycle.compute.lifecycle import resume_job, run_job, stop_job
from ml_lifecycle.core.job_kinds import PROCESSING, TRAINING, TRANSFORM, JobKind
from ml_lifecycle.core.naming import RunIdentity, job_name
from ml_lifecycle.core.status import JobStatus, is_terminal
from ml_lifecycle.errors import JobFailed, TransformFailed
from ml_lifecycle.triggers.job_record import JobRecordTrigger

pytestmark = pytest.mark.docker

KINDS = [
    pytest.param(TRAINING, id="training"),
    pytest.param(TRANSFORM, id="transform"),
    pytest.param(PROCESSING, id="processing"),
]
# A training job that runs long enough for a test to look at it running, then completes.
SLOW_TRAIN = "sleep 6; echo done > /opt/ml/model/m.txt"
FAILING_TRAIN = "sleep 3; echo 'the data is bad' > /opt/ml/output/failure; exit 3"


class Deferred(Exception):
    """Raised where Airflow would raise TaskDeferred: what to wait for, and Airflow's timeout."""

    def __init__(self, wait: RecordWait, timeout_s: float) -> None:
        super().__init__(wait.job_name)
        self.wait = wait
        self.timeout_s = timeout_s


def _defer(wait: RecordWait, timeout_s: float) -> NoReturn:
    """Stand in for the operator's deferral (the task part Airflow owns).

    :param wait: what to wait for.
    :param timeout_s: Airflow's timeout.
    """
    raise Deferred(wait, timeout_s)


def _spec(place: Any, kind: JobKind, slow: bool = False, failing: bool = False) -> Any:
    """Return a spec of the kind on the place: quick, slow (running for a few seconds), or failing.

    :param place: the Place.
    :param kind: the job kind.
    :param slow: make it run for a few seconds.
    :param failing: make it fail.
    """
    if kind is TRAINING:
        script = FAILING_TRAIN if failing else SLOW_TRAIN if slow else None
        return place.training(script, instance_count=2 if failing else 1)  # two hosts: a network to hold
    if kind is PROCESSING:
        script = FAILING_TRAIN if failing else SLOW_TRAIN.replace("/opt/ml/model", "/opt/ml/processing/output")
        return place.processing(script if failing or slow else None, instance_count=2 if failing else 1)
    if failing:
        return place.transform(rows="1,2\n")  # 2 columns where the model wants 8: the container answers 400
    if slow:  # one request per record, one at a time: a few seconds
        rows = "".join(f"{i},1,0,0,0,0,0,2\n" for i in range(15_000))
        return place.transform(rows=rows, batch_strategy="SingleRecord", max_concurrent_transforms=1)
    return place.transform()


def _run(jobs: JobBackend, spec: Any, identity: RunIdentity, lines: list[str], **kwargs: Any) -> Any:
    """Run the task instance's job through the lifecycle; return its outcome.

    :param jobs: the backend's job runner.
    :param spec: the spec.
    :param identity: the task instance.
    :param lines: collects the task log.
    :param kwargs: wait, defer.
    """
    return run_job(jobs, spec, identity, lines.append, note_job=lambda name: None, **kwargs)


def _wait_for(check: Callable[[], Any], what: str, timeout_s: float = 120) -> Any:
    """Poll check() until it returns something truthy.

    :param check: the condition.
    :param what: what is awaited (for the failure message).
    :param timeout_s: the most seconds to wait.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _first_event(wait: RecordWait) -> dict[str, Any]:
    """Run the trigger for a wait, rebuilt from its serialized form as the triggerer does, until its event.

    :param wait: what the task waits for.
    """
    trigger = JobRecordTrigger.waiting_for(wait)
    rebuilt = JobRecordTrigger(**trigger.serialize()[1])

    async def first() -> Any:
        return await rebuilt.run().__anext__()

    return dict(asyncio.run(first()).payload)


def _assert_nothing_runs(place: Any, job: str) -> None:
    """Check that nothing of the job runs any more (give an ending instance a moment).

    :param place: the Place.
    :param job: the job's name.
    """
    _wait_for(lambda: place.alive(job) == [], f"everything of {job} to end", timeout_s=60)


@pytest.mark.parametrize("kind", KINDS)
def test_a_completed_job_is_reused_and_nothing_is_launched_again(place, kind: JobKind) -> None:
    jobs = place.backend.jobs(kind)
    spec = _spec(place, kind)
    identity = identity_from_context(task_context())
    lines: list[str] = []
    first = _run(jobs, spec, identity, lines)
    assert first.status == JobStatus.COMPLETED
    made = place.created(first.job_name)
    assert made >= 1

    again = _run(jobs, spec, identity, lines)

    assert again == first
    assert any("already completed in an earlier try" in line for line in lines)
    assert place.created(first.job_name) == made
    _assert_nothing_runs(place, first.job_name)


@pytest.mark.parametrize("kind", KINDS)
def test_a_running_job_is_reattached_and_completes_with_one_set_of_hosts(place, kind: JobKind) -> None:
    jobs = place.backend.jobs(kind)
    spec = _spec(place, kind, slow=True)
    identity = identity_from_context(task_context())
    started = _run(jobs, spec, identity, [], wait=False)
    assert started.status == JobStatus.IN_PROGRESS
    _wait_for(lambda: place.alive(started.job_name), "the job's hosts to run")

    lines: list[str] = []
    retry = place.backend.jobs(kind)  # a retry builds its own runner (another process, another worker)
    done = _run(retry, spec, identity, lines)

    assert (done.job_name, done.status) == (started.job_name, JobStatus.COMPLETED)
    assert any("reattaching" in line for line in lines)
    assert place.created(done.job_name) == spec.instance_count
    _assert_nothing_runs(place, done.job_name)


@pytest.mark.parametrize("kind", KINDS)
def test_a_failed_job_whose_cleanup_fails_too_reports_the_jobs_own_error(place, kind: JobKind, caplog) -> None:
    identity = identity_from_context(task_context())
    name = job_name(identity)
    jam = place.jam_cleanup(name, kind.name)
    if isinstance(jam, str):
        pytest.skip(jam)
    jobs = place.backend.jobs(kind)
    spec = _spec(place, kind, failing=True)

    with jam, pytest.raises(TransformFailed if kind is TRANSFORM else JobFailed) as failed:
        _run(jobs, spec, identity, [])

    assert jam.held, f"the test never jammed the cleanup: {jam.error}"
    assert ("HTTP 400" if kind is TRANSFORM else "the data is bad") in str(failed.value)
    assert name in str(failed.value)
    assert any(f"Cleanup of {name} failed" in r.getMessage() for r in caplog.records)
    jobs.clean_up(spec, name)  # the jam is gone: cleanup succeeds
    _assert_nothing_runs(place, name)


@pytest.mark.parametrize("kind", KINDS)
def test_on_kill_stops_the_job_and_removes_what_runs_it(place, kind: JobKind) -> None:
    jobs = place.backend.jobs(kind)
    spec = _spec(place, kind, slow=True)
    identity = identity_from_context(task_context())
    started = _run(jobs, spec, identity, [], wait=False)
    _wait_for(lambda: place.alive(started.job_name), "the job's hosts to run")

    stop_job(jobs, spec, started.job_name)

    _assert_nothing_runs(place, started.job_name)
    if kind is not TRANSFORM:  # a stopped job says so; what training saved is kept (a transform saves nothing)
        record = jobs.find(spec, started.job_name)
        assert record is not None and record.status == JobStatus.STOPPED


@pytest.mark.parametrize("kind", KINDS)
def test_a_deferred_job_resumes_with_its_outputs_and_nothing_left(place, kind: JobKind) -> None:
    jobs = place.backend.jobs(kind)
    spec = _spec(place, kind)
    identity = identity_from_context(task_context())
    with pytest.raises(Deferred) as deferred:
        _run(jobs, spec, identity, [], defer=_defer)
    wait = deferred.value.wait
    assert (wait.compute, wait.record_uri) == (place.name, jobs.record_uri(spec, wait.job_name))
    assert deferred.value.timeout_s > wait.deadline_epoch_s - time.time()  # Airflow's timeout comes after the trigger's

    event = _first_event(wait)
    assert event["status"] == JobStatus.COMPLETED

    lines: list[str] = []
    outcome = resume_job(place.backend.jobs(kind), spec, wait.job_name, event, lines.append, _defer)
    assert outcome.status == JobStatus.COMPLETED
    assert lines  # the job's log was shown on resume
    _assert_nothing_runs(place, wait.job_name)


@pytest.mark.parametrize("kind", KINDS)
def test_a_job_whose_host_is_lost_fails_as_lost_when_waited_on_and_when_deferred(place, kind: JobKind) -> None:
    jobs = place.backend.jobs(kind)
    spec = _spec(place, kind, slow=True)
    identity = identity_from_context(task_context())
    job = _run(jobs, spec, identity, [], wait=False).job_name
    _wait_for(lambda: place.alive(job), "the job's hosts to run")
    record = _wait_for(lambda: jobs.find(spec, job), "the job's record")
    outcome: list[BaseException] = []
    lines: list[str] = []
    waiter = threading.Thread(
        target=_catch, args=(lambda: _run(place.backend.jobs(kind), spec, identity, lines), outcome)
    )
    waiter.start()  # a retry that reattached and waits, as the task does
    _wait_for(lambda: any("reattaching" in line for line in lines), "the retry to reattach")

    place.lose(job, record)

    waiter.join(timeout=120)
    assert not waiter.is_alive(), "the wait never noticed the job was lost"
    assert len(outcome) == 1 and isinstance(outcome[0], TransformFailed if kind is TRANSFORM else JobFailed)
    assert jobs.lost_reason in str(outcome[0])
    event = _first_event(jobs.record_wait(spec, job, time.time() + 120))  # a deferred task is told the same
    assert (event["status"], event["failure_reason"]) == ("lost", jobs.lost_reason)
    assert not is_terminal(jobs.find(spec, job).status)  # nobody wrote a final record: the job is lost, not done
    _assert_nothing_runs(place, job)


def _catch(call: Callable[[], Any], outcome: list[BaseException]) -> None:
    """Run call and keep what it raised.

    :param call: the call.
    :param outcome: receives the exception.
    """
    try:
        call()
    except BaseException as err:
        outcome.append(err)
