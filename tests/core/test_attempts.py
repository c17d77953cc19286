"""The retry policy: which job name a task instance uses, and whether it reuses, reattaches or starts."""

from __future__ import annotations

import pytest

from ml_lifecycle.core.attempts import choose_attempt
from ml_lifecycle.core.naming import RunIdentity, job_name
from ml_lifecycle.core.status import JobRecord, JobStatus

IDENTITY = RunIdentity("dag", "task", "run-1")
FIRST, SECOND, THIRD = (job_name(IDENTITY, n) for n in (1, 2, 3))


def _record(name: str, status: str) -> JobRecord:
    """Return a record of a job in a state.

    :param name: the job's name.
    :param status: its JobStatus.
    """
    return JobRecord(job_name=name, kind="training", status=status)


@pytest.mark.parametrize(
    ("records", "alive", "expected", "abandoned"),
    [
        pytest.param({}, set(), (FIRST, "start"), [], id="first-try"),
        pytest.param({}, {FIRST}, (FIRST, "attach"), [], id="hosts-booting-without-a-record"),
        pytest.param({FIRST: JobStatus.COMPLETED}, set(), (FIRST, "reuse"), [], id="completed"),
        pytest.param({FIRST: JobStatus.IN_PROGRESS}, {FIRST}, (FIRST, "attach"), [], id="running"),
        pytest.param({FIRST: JobStatus.IN_PROGRESS}, set(), (SECOND, "start"), [FIRST], id="agent-gone"),
        pytest.param({FIRST: JobStatus.FAILED}, set(), (SECOND, "start"), [], id="failed"),
        pytest.param({FIRST: JobStatus.STOPPED}, set(), (SECOND, "start"), [], id="stopped"),
        pytest.param(
            {FIRST: JobStatus.FAILED, SECOND: JobStatus.COMPLETED}, set(), (SECOND, "reuse"), [], id="retry-completed"
        ),
        pytest.param(
            {FIRST: JobStatus.FAILED, SECOND: JobStatus.IN_PROGRESS},
            set(),
            (THIRD, "start"),
            [SECOND],
            id="retry-abandoned",
        ),
    ],
)
def test_each_history_gives_one_decision(
    records: dict[str, str], alive: set[str], expected: tuple[str, str], abandoned: list[str]
) -> None:
    gone: list[str] = []
    attempt = choose_attempt(
        IDENTITY,
        lambda name: _record(name, records[name]) if name in records else None,
        lambda name, record: name in alive,
        gone.append,
    )
    assert (attempt.job_name, attempt.action) == expected
    assert gone == abandoned
    if attempt.action == "reuse":
        assert attempt.record is not None and attempt.record.status == JobStatus.COMPLETED
