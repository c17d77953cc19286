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
        ("tune", "yes"),
        ("l2_min", 0),
        ("l2_max", -1.0),
        ("max_trials", 0),
        ("max_parallel_trials", 11),
        ("process_raw_data", "yes"),
        ("validation_fraction", 0),
        ("validation_fraction", 1),
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
    params["tune"] = True
    params["process_raw_data"] = True
    params["validation_fraction"] = 0.3
    params["l2_min"] = 0.001
    params["max_trials"] = 6
    assert params.validate()["instance_count"] == 3


def test_the_optional_steps_are_off_by_default(dagbag):
    params = dagbag.dags["retrain_and_deploy"].params.validate()
    assert params["tune"] is False and params["process_raw_data"] is False


def test_every_job_of_the_run_is_cleaned_up_by_the_teardown_whatever_happens(dagbag):
    dag = dagbag.dags["retrain_and_deploy"]
    teardown = dag.get_task("teardown")
    before_teardown = {t.task_id for t in teardown.get_flat_relatives(upstream=True)}
    assert {"split_raw_data", "train", "tune", "batch_transform", "deploy_endpoint"} <= before_teardown
    assert teardown.trigger_rule == "all_done_setup_success"


def test_skipping_the_processing_step_skips_only_its_own_tasks(dagbag):
    dag = dagbag.dags["retrain_and_deploy"]
    short_circuit = dag.get_task("process_raw_data")
    assert short_circuit.ignore_downstream_trigger_rules is False
    assert short_circuit.downstream_task_ids == {"build_processing_image"}
    join = dag.get_task("training_data")
    assert join.upstream_task_ids == {"split_raw_data"} and join.trigger_rule == "none_failed"
    assert {"training_data", "push_image", "train_or_tune"} == dag.get_task("train").upstream_task_ids


def test_either_training_or_tuning_feeds_the_export(dagbag):
    dag = dagbag.dags["retrain_and_deploy"]
    branch = dag.get_task("train_or_tune")
    assert branch.downstream_task_ids == {"train", "tune"}
    join = dag.get_task("model_to_publish")
    assert join.upstream_task_ids == {"train", "tune"}
    assert join.trigger_rule == "none_failed_min_one_success"
    assert dag.get_task("export_model").upstream_task_ids == {"model_to_publish"}


def test_tuning_searches_l2_and_keeps_the_other_hyperparameters_static(dagbag):
    from airflow.sdk import Context

    dag = dagbag.dags["retrain_and_deploy"]
    tune = dag.get_task("tune")
    assert tune.objective_metric_name == "validation_rmse" and tune.objective_type == "Minimize"
    params = {**dag.params.validate(), "hyperparameters": {"l2": "0.5", "target_column": "0"}}
    environment = dag.get_template_env()
    static = environment.from_string(tune.hyperparameters).render(Context(params=params))
    assert static == {"target_column": "0"}


def test_the_export_gate_reads_the_threshold_from_the_form(dagbag):
    export = dagbag.dags["retrain_and_deploy"].get_task("export_model")
    assert export.quality_gate["metric"] == "validation_rmse"
    assert "params.quality_threshold" in export.quality_gate["max"]
