"""Job states: exit codes and stops map to SageMaker's (status, secondary status); records round-trip."""

from __future__ import annotations

import json

import pytest

from ml_lifecycle.core.status import (
    JobRecord,
    JobStatus,
    SecondaryStatus,
    exit_reason,
    is_failed,
    is_terminal,
    status_for_exit,
)


@pytest.mark.parametrize(
    ("exit_code", "max_runtime_exceeded", "stopped", "expected"),
    [
        pytest.param(0, False, False, ("Completed", "Completed"), id="exit-0-completed"),
        pytest.param(1, False, False, ("Failed", "Failed"), id="exit-1-failed"),
        pytest.param(2, False, False, ("Failed", "Failed"), id="exit-2-failed"),
        pytest.param(137, False, False, ("Failed", "Failed"), id="exit-137-oom-failed"),
        pytest.param(-9, False, False, ("Failed", "Failed"), id="negative-signal-failed"),
        pytest.param(0, True, False, ("Stopped", "MaxRuntimeExceeded"), id="max-runtime-exit-0"),
        pytest.param(143, True, False, ("Stopped", "MaxRuntimeExceeded"), id="max-runtime-sigterm"),
        pytest.param(137, True, False, ("Stopped", "MaxRuntimeExceeded"), id="max-runtime-sigkill"),
        pytest.param(0, False, True, ("Stopped", "Stopped"), id="stopped-exit-0"),
        pytest.param(143, False, True, ("Stopped", "Stopped"), id="stopped-sigterm"),
        pytest.param(1, True, True, ("Stopped", "MaxRuntimeExceeded"), id="max-runtime-wins-over-stop"),
    ],
)
def test_status_for_exit(exit_code: int, max_runtime_exceeded: bool, stopped: bool, expected: tuple[str, str]) -> None:
    status, secondary = status_for_exit(exit_code, max_runtime_exceeded=max_runtime_exceeded, stopped=stopped)
    assert (status, secondary) == expected
    assert isinstance(status, JobStatus)
    assert isinstance(secondary, SecondaryStatus)


@pytest.mark.parametrize(
    ("status", "terminal", "failed"),
    [
        pytest.param(JobStatus.IN_PROGRESS, False, False, id="InProgress"),
        pytest.param(JobStatus.STOPPING, False, False, id="Stopping"),
        pytest.param(JobStatus.COMPLETED, True, False, id="Completed"),
        pytest.param(JobStatus.FAILED, True, True, id="Failed"),
        pytest.param(JobStatus.STOPPED, True, True, id="Stopped-fails-the-task"),
        pytest.param("Completed", True, False, id="plain-string-Completed"),
        pytest.param("Stopped", True, True, id="plain-string-Stopped"),
        pytest.param("Deleting", False, False, id="unknown-status"),
    ],
)
def test_terminal_and_failed(status: str, terminal: bool, failed: bool) -> None:
    assert is_terminal(status) is terminal
    assert is_failed(status) is failed


def test_status_names_are_sagemakers() -> None:
    assert [s.value for s in JobStatus] == ["InProgress", "Completed", "Failed", "Stopping", "Stopped"]
    assert SecondaryStatus.MAX_RUNTIME_EXCEEDED == "MaxRuntimeExceeded"


def test_exit_reason_oom_killed_is_out_of_memory() -> None:
    reason = exit_reason(137, oom_killed=True)
    assert "out of memory" in reason
    assert "137" in reason
    assert "instance_type" in reason


def test_exit_reason_137_without_the_oom_killer_says_something_killed_it() -> None:
    reason = exit_reason(137)
    assert "out of memory" not in reason
    assert "SIGKILL" in reason


@pytest.mark.parametrize("code", [1, 2, 139])
def test_exit_reason_other_codes(code: int) -> None:
    assert exit_reason(code) == f"The container exited with code {code} and wrote no /opt/ml/output/failure"


def test_job_record_defaults() -> None:
    record = JobRecord("job-1", "training")
    assert (record.status, record.secondary_status) == ("InProgress", "Starting")
    assert record.ended_at is None
    assert record.hosts == []
    assert record.failure_reason == ""


def test_job_record_round_trips_through_json() -> None:
    record = JobRecord(
        "job-1",
        "training",
        status=JobStatus.FAILED,
        secondary_status=SecondaryStatus.FAILED,
        hosts=["algo-1", "algo-2"],
        exit_codes={"algo-1": 0, "algo-2": 137},
        metrics={"rmse": 0.5},
        metric_series={"rmse": [[1.0, 0.7], [2.0, 0.5]]},
        artifacts={"model": "s3://b/job-1/output/model.tar.gz"},
        hyperparameters={"lr": "0.1"},
        transitions=[["Starting", "2024-01-01T00:00:00Z"]],
    )
    data = json.loads(json.dumps(record.to_dict()))
    assert data["status"] == "Failed"
    assert data["exit_codes"] == {"algo-1": 0, "algo-2": 137}
    assert JobRecord.from_dict(data) == record


def test_job_record_from_dict_ignores_unknown_keys() -> None:
    record = JobRecord.from_dict({"job_name": "j", "kind": "transform", "added_by_newer_writer": 1})
    assert record == JobRecord("j", "transform")
