"""The error hierarchy: every SpecError names the parameter, the problem and the fix."""

from __future__ import annotations

import pytest

from ml_lifecycle.errors import (
    ArtifactExists,
    ArtifactNotFound,
    EngineError,
    ImageNotFound,
    JobFailed,
    MlLifecycleError,
    SpecError,
)


def test_spec_error_message_is_parameter_problem_fix() -> None:
    err = SpecError("channels['train']", "'ftp://x' has an unknown scheme", "Write s3://bucket/prefix")
    assert str(err) == "channels['train']: 'ftp://x' has an unknown scheme. Write s3://bucket/prefix"
    assert err.parameter == "channels['train']"


@pytest.mark.parametrize(
    ("error_class", "bases"),
    [
        pytest.param(SpecError, (MlLifecycleError, ValueError), id="SpecError-is-ValueError"),
        pytest.param(
            ArtifactNotFound, (MlLifecycleError, FileNotFoundError), id="ArtifactNotFound-is-FileNotFoundError"
        ),
        pytest.param(ArtifactExists, (MlLifecycleError, FileExistsError), id="ArtifactExists-is-FileExistsError"),
        pytest.param(ImageNotFound, (EngineError, MlLifecycleError), id="ImageNotFound-is-EngineError"),
        pytest.param(JobFailed, (MlLifecycleError,), id="JobFailed-is-MlLifecycleError"),
    ],
)
def test_error_hierarchy(error_class: type, bases: tuple[type, ...]) -> None:
    assert all(issubclass(error_class, base) for base in bases)


def test_job_failed_carries_identity_status_reason_and_log_tail() -> None:
    err = JobFailed("job-1", "Failed", "loss diverged", log_tail="line 1\nline 2")
    assert (err.job_name, err.status, err.reason, err.log_tail) == (
        "job-1",
        "Failed",
        "loss diverged",
        "line 1\nline 2",
    )
    assert str(err) == (
        "Job job-1 ended Failed: loss diverged\n--- last lines of the container log ---\nline 1\nline 2"
    )


def test_job_failed_without_reason_says_none_was_written() -> None:
    assert str(JobFailed("job-1", "Stopped", "")) == "Job job-1 ended Stopped: no failure reason was written"
