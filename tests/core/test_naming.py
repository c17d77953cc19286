"""Job names: deterministic, at most 63 characters of [a-zA-Z0-9-], distinct per task instance."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ml_lifecycle.core.naming import MAX_JOB_NAME_CHARS, RunIdentity, container_name, job_name

PROPERTY = settings(deadline=None, max_examples=300)
# SageMaker's TrainingJobName pattern, plus the 63-character limit.
SAGEMAKER_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
IDENTITY = RunIdentity("my_dag", "train.model", "manual__2024-01-01T00:00:00+00:00")


def test_job_name_shape() -> None:
    name = job_name(IDENTITY)
    assert re.fullmatch(r"my-dag-train-model-[0-9a-f]{8}", name), name


@pytest.mark.parametrize(
    ("attempt", "pattern"),
    [
        pytest.param(1, r"my-dag-train-model-[0-9a-f]{8}", id="first-attempt-no-suffix"),
        pytest.param(2, r"my-dag-train-model-[0-9a-f]{8}-a2", id="second-attempt"),
        pytest.param(17, r"my-dag-train-model-[0-9a-f]{8}-a17", id="seventeenth-attempt"),
    ],
)
def test_job_name_attempt_suffix(attempt: int, pattern: str) -> None:
    assert re.fullmatch(pattern, job_name(IDENTITY, attempt))


def test_attempts_share_the_hash() -> None:
    assert job_name(IDENTITY, 3).startswith(job_name(IDENTITY) + "-a")


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(RunIdentity("my_dag", "train.model", "scheduled__2024-01-02"), id="other-run"),
        pytest.param(RunIdentity("my_dag", "train.model", IDENTITY.run_id, 0), id="other-map-index"),
        pytest.param(RunIdentity("my_dag", "train-model", IDENTITY.run_id), id="same-slug-other-task"),
        pytest.param(RunIdentity("my.dag", "train.model", IDENTITY.run_id), id="same-slug-other-dag"),
    ],
)
def test_other_identities_get_other_names(other: RunIdentity) -> None:
    assert job_name(other) != job_name(IDENTITY)


def test_long_ids_are_cut_to_63_and_keep_the_hash() -> None:
    identity = RunIdentity("d" * 200, "t" * 200, "r")
    name = job_name(identity, 12)
    assert len(name) == MAX_JOB_NAME_CHARS == 63
    assert re.fullmatch(r"d+-[0-9a-f]{8}-a12", name)


@pytest.mark.parametrize(
    ("dag_id", "task_id"),
    [pytest.param("___", "...", id="punctuation-only"), pytest.param("", "", id="empty")],
)
def test_ids_without_letters_fall_back_to_job(dag_id: str, task_id: str) -> None:
    assert re.fullmatch(r"job-[0-9a-f]{8}", job_name(RunIdentity(dag_id, task_id, "r")))


def test_truncation_never_leaves_a_hyphen_before_the_hash() -> None:
    # 50 chars then a separator: the cut lands right after the hyphen.
    identity = RunIdentity("a" * 53, "b", "r")
    name = job_name(identity)
    assert "--" not in name
    assert SAGEMAKER_NAME.fullmatch(name)


AIRFLOW_ID = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789_.-", min_size=1, max_size=250)
RUN_ID = st.text(alphabet=st.characters(exclude_characters="\0", codec="utf-8"), min_size=1, max_size=250)
IDENTITIES = st.builds(RunIdentity, AIRFLOW_ID, AIRFLOW_ID, RUN_ID, st.integers(min_value=-1, max_value=100_000))
ATTEMPTS = st.integers(min_value=1, max_value=10_000)


@given(IDENTITIES, ATTEMPTS)
@PROPERTY
def test_job_name_is_valid_and_deterministic(identity: RunIdentity, attempt: int) -> None:
    name = job_name(identity, attempt)
    assert len(name) <= 63
    assert re.fullmatch(r"[a-zA-Z0-9-]+", name)
    assert SAGEMAKER_NAME.fullmatch(name)
    assert "--" not in name
    rebuilt = RunIdentity(identity.dag_id, identity.task_id, identity.run_id, identity.map_index)
    assert job_name(rebuilt, attempt) == name


@given(IDENTITIES, IDENTITIES)
@PROPERTY
def test_distinct_identities_get_distinct_names(first: RunIdentity, second: RunIdentity) -> None:
    assume(first != second)
    assert job_name(first) != job_name(second)


@given(IDENTITIES, ATTEMPTS, ATTEMPTS)
@PROPERTY
def test_distinct_attempts_get_distinct_names(identity: RunIdentity, one: int, two: int) -> None:
    assume(one != two)
    assert job_name(identity, one) != job_name(identity, two)


def test_labels() -> None:
    assert IDENTITY.labels() == {
        "ml-lifecycle.dag-id": "my_dag",
        "ml-lifecycle.task-id": "train.model",
        "ml-lifecycle.run-id": "manual__2024-01-01T00:00:00+00:00",
        "ml-lifecycle.map-index": "-1",
    }


def test_container_name() -> None:
    assert container_name("job-abc", "algo-2") == "mlc-job-abc-algo-2"
