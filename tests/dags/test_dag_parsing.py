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
    assert {"retrain_and_deploy", "batch_scoring", "reap_orphans"} <= set(dagbag.dag_ids)


def test_retraining_runs_on_a_cron_or_when_the_training_data_changes(dagbag):
    from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable

    timetable = dagbag.dags["retrain_and_deploy"].timetable
    assert isinstance(timetable, AssetOrTimeSchedule)
    assert isinstance(timetable.timetable, CronTriggerTimetable)
    assert [a.name for a in timetable.asset_condition.objects] == ["linear-training-data"]


def test_batch_scoring_follows_the_model_asset_that_the_export_emits(dagbag):
    export = dagbag.dags["retrain_and_deploy"].get_task("export_model")
    schedule = dagbag.dags["batch_scoring"].timetable.asset_condition
    assert [a.name for a in export.outlets] == ["linear-model"]
    assert [a.uri for a in schedule.objects] == [export.outlets[0].uri]


def test_the_reaper_runs_hourly(dagbag):
    dag = dagbag.dags["reap_orphans"]
    assert dag.timetable.expression == "0 * * * *"
    assert [t.task_type for t in dag.tasks] == ["ReapOrphansOperator"]


def test_retries_back_off_exponentially(dagbag):
    for dag_id in ("retrain_and_deploy", "batch_scoring"):
        for task in dagbag.dags[dag_id].tasks:
            assert task.retry_exponential_backoff, f"{dag_id}.{task.task_id}"


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
        ("quality_threshold", -1),
        ("quality_threshold", "good"),
        ("deploy", "yes"),
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
    params["quality_threshold"] = 0.25
    params["beat_in_service"] = True
    assert params.validate()["instance_count"] == 3


def test_the_export_gate_reads_the_threshold_from_the_form(dagbag):
    export = dagbag.dags["retrain_and_deploy"].get_task("export_model")
    assert export.quality_gate["metric"] == "validation_rmse"
    assert "params.quality_threshold" in export.quality_gate["max"]
