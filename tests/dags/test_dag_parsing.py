"""Every DAG in dags/ parses without import errors, and the trigger form's schema refuses bad values."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def dagbag():
    """Parse dags/ the way the DAG processor does."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER))


def test_dags_parse_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert "retrain_and_deploy" in dagbag.dag_ids


def test_every_task_retries_and_cleanup_is_a_teardown(dagbag):
    dag = dagbag.dags["retrain_and_deploy"]
    assert all(task.retries >= 1 for task in dag.tasks if not task.is_teardown)
    teardown = dag.get_task("teardown")
    assert teardown.is_teardown
    assert {t.task_id for t in teardown.upstream_list} >= {"batch_transform", "smoke_test"}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("instance_count", 0),
        ("instance_count", "three"),
        ("instance_type", "ml.imaginary.huge"),
        ("compute", "mainframe"),
        ("hyperparameters", ["not", "an", "object"]),
        ("endpoint_name", "bad name"),
    ],
)
def test_the_form_refuses_bad_values(dagbag, name, value):
    from airflow.sdk.exceptions import ParamValidationError

    params = copy.deepcopy(dagbag.dags["retrain_and_deploy"].params)
    with pytest.raises(ParamValidationError):
        params[name] = value
        params.validate()


def test_the_form_accepts_its_defaults_and_good_values(dagbag):
    params = copy.deepcopy(dagbag.dags["retrain_and_deploy"].params)
    params["instance_count"] = 3
    params["instance_type"] = "ml.c5.xlarge"
    params["hyperparameters"] = {"l2": "0.5"}
    assert params.validate()["instance_count"] == 3
