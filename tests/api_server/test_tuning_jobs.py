"""CreateHyperParameterTuningJob and friends through our API with boto3, unchanged: the trials run on the local
engine with S3 in moto, each one visible as a training job, answers match botocore's service model, and a tuning job
goes on through a restart of the API without running a finished trial again."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections import Counter
from typing import Any

import pytest
from support.api_server import ROLE_ARN, api_client, tuning_request
from support.helpers import wait_until

pytestmark = pytest.mark.docker


def _wait(sagemaker: Any, name: str, until: tuple[str, ...] = ("Completed", "Failed", "Stopped")) -> dict[str, Any]:
    """Describe a tuning job until its status is one of until (the provider's sensor polls the same way).

    :param sagemaker: the client.
    :param name: the tuning job.
    :param until: the statuses to stop at.
    """
    for _ in range(600):
        described = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        if described["HyperParameterTuningJobStatus"] in until:
            return described
        time.sleep(0.5)
    raise AssertionError(f"{name} is still {described['HyperParameterTuningJobStatus']}")


class CreatedContainers:
    """Count the containers the engine creates for the API's jobs, by job (a trial run twice shows twice)."""

    def __init__(self, docker_client: Any) -> None:
        """Start following the engine's create events.

        :param docker_client: a docker SDK client.
        """
        self.by_job: Counter[str] = Counter()
        self._events = docker_client.events(
            decode=True, filters={"type": "container", "event": "create", "label": "ml-lifecycle.sagemaker-api"}
        )
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        """Count each create event by its job label."""
        for event in self._events:
            self.by_job[event["Actor"]["Attributes"].get("ml-lifecycle.job", "")] += 1

    def close(self) -> None:
        """Stop following."""
        self._events.close()


def test_a_grid_tuning_job_runs_every_trial_as_a_training_job_and_names_the_best(sagemaker, s3, curve_image):
    s3.put_object(Bucket="ml-bucket", Key="data/curve/x.csv", Body=b"1\n")
    name = f"api-tune-{uuid.uuid4().hex[:8]}"

    arn = sagemaker.create_hyper_parameter_tuning_job(**tuning_request(name, curve_image))["HyperParameterTuningJobArn"]
    described = _wait(sagemaker, name)

    assert arn == f"arn:aws:sagemaker:us-east-1:000000000000:hyper-parameter-tuning-job/{name}"
    assert described["HyperParameterTuningJobStatus"] == "Completed", described.get("FailureReason")
    assert described["TrainingJobStatusCounters"] == {
        "Completed": 3,
        "InProgress": 0,
        "RetryableError": 0,
        "NonRetryableError": 0,
        "Stopped": 0,
    }
    assert described["ObjectiveStatusCounters"] == {"Succeeded": 3, "Pending": 0, "Failed": 0}
    best = described["BestTrainingJob"]
    # The curve's final loss is 1/epochs + the option's cost: a is the cheapest.
    assert best["TunedHyperParameters"] == {"opt": "a"}
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == pytest.approx(1 / 3, abs=1e-4)
    assert described["HyperParameterTuningEndTime"] >= described["CreationTime"]

    trials = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name, SortBy="FinalObjectiveMetricValue", SortOrder="Ascending"
    )["TrainingJobSummaries"]
    assert [t["TunedHyperParameters"]["opt"] for t in trials] == ["a", "b", "c"]
    page = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name, MaxResults=2, StatusEquals="Completed"
    )
    assert len(page["TrainingJobSummaries"]) == 2 and page["NextToken"]

    model = f"s3://ml-bucket/tuning/{best['TrainingJobName']}/output/model.tar.gz"
    assert s3.head_object(Bucket="ml-bucket", Key=model[len("s3://ml-bucket/") :])

    # Once it ended, the tuning job and its trials are still described and listed when its output path is emptied
    # (a DAG that deletes its bucket): the API kept their final state and records, as SageMaker does.
    for found_page in s3.get_paginator("list_objects_v2").paginate(Bucket="ml-bucket", Prefix="tuning/"):
        for found in found_page.get("Contents", []):
            s3.delete_object(Bucket="ml-bucket", Key=found["Key"])
    assert sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)["BestTrainingJob"] == best
    after_emptied = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert len(after_emptied["TrainingJobSummaries"]) == 3

    # The best trial is a training job as SageMaker shows one (the SDK's best_estimator() attaches to it so).
    trial = sagemaker.describe_training_job(TrainingJobName=best["TrainingJobName"])
    assert trial["TrainingJobStatus"] == "Completed"
    assert trial["HyperParameters"]["opt"] == "a"
    assert trial["HyperParameters"]["_tuning_objective_metric"] == "loss"
    assert trial["ModelArtifacts"]["S3ModelArtifacts"] == model
    listed = sagemaker.list_training_jobs(NameContains=name)["TrainingJobSummaries"]
    assert sorted(s["TrainingJobName"] for s in listed) == sorted(t["TrainingJobName"] for t in trials)
    assert {s["TrainingJobStatus"] for s in listed} == {"Completed"}

    # Without SortBy and SortOrder, both tuning lists are by name, ascending (botocore's documented defaults).
    by_default = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    listed_names = [t["TrainingJobName"] for t in by_default["TrainingJobSummaries"]]
    assert listed_names == sorted(listed_names)
    summaries = sagemaker.list_hyper_parameter_tuning_jobs(NameContains=name)["HyperParameterTuningJobSummaries"]
    assert [(s["HyperParameterTuningJobName"], s["Strategy"]) for s in summaries] == [(name, "Grid")]
    modified = summaries[0]["LastModifiedTime"]
    assert modified == described["LastModifiedTime"] and modified >= described["HyperParameterTuningEndTime"]
    after = modified - dt.timedelta(seconds=1)
    assert sagemaker.list_hyper_parameter_tuning_jobs(NameContains=name, LastModifiedTimeAfter=after)[
        "HyperParameterTuningJobSummaries"
    ]
    two = [f"{name}-b", f"{name}-a"]
    for other in two:
        sagemaker.create_hyper_parameter_tuning_job(**tuning_request(other, curve_image))
    listed = sagemaker.list_hyper_parameter_tuning_jobs(NameContains=name)["HyperParameterTuningJobSummaries"]
    assert [s["HyperParameterTuningJobName"] for s in listed] == [name, *sorted(two)]
    for other in two:  # not left running; one that already ended (its trials are short) needs no stop
        try:
            sagemaker.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=other)
        except sagemaker.exceptions.ClientError as err:
            assert "already ended" in str(err)
        _wait(sagemaker, other)
    assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]
    with pytest.raises(sagemaker.exceptions.ClientError, match="already ended"):
        sagemaker.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)


def test_a_stopped_tuning_job_stops_its_running_trials_and_ends_stopped(sagemaker, s3, curve_image):
    s3.put_object(Bucket="ml-bucket", Key="data/curve/x.csv", Body=b"1\n")
    name = f"api-tune-stop-{uuid.uuid4().hex[:8]}"
    request = tuning_request(name, curve_image)
    request["TrainingJobDefinition"]["StaticHyperParameters"] = {"epochs": "600", "step_s": "0.5"}

    sagemaker.create_hyper_parameter_tuning_job(**request)
    _wait_for_trials(sagemaker, name, running=2)
    sagemaker.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    described = _wait(sagemaker, name, until=("Completed", "Failed", "Stopped"))

    assert described["HyperParameterTuningJobStatus"] == "Stopped"
    assert described["TrainingJobStatusCounters"]["Stopped"] == 2
    assert described["TrainingJobStatusCounters"]["InProgress"] == 0
    for trial in sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)[
        "TrainingJobSummaries"
    ]:
        assert trial["TrainingJobStatus"] == "Stopped"


def _wait_for_trials(sagemaker: Any, name: str, running: int) -> None:
    """Wait until a tuning job has this many trials running.

    :param sagemaker: the client.
    :param name: the tuning job.
    :param running: how many.
    """
    for _ in range(600):
        described = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        if described["TrainingJobStatusCounters"]["InProgress"] >= running:
            return
        time.sleep(0.5)
    raise AssertionError(f"{name} never had {running} trials running: {described['TrainingJobStatusCounters']}")


def test_a_field_that_cannot_be_honoured_is_refused_by_name_and_nothing_is_stored(sagemaker, curve_image):
    name = f"api-tune-bad-{uuid.uuid4().hex[:8]}"
    request = tuning_request(name, curve_image)
    request["Autotune"] = {"Mode": "Enabled"}

    with pytest.raises(sagemaker.exceptions.ClientError, match="Autotune") as raised:
        sagemaker.create_hyper_parameter_tuning_job(**request)
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(sagemaker.exceptions.ClientError, match="does not exist"):
        sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)


def test_a_warm_start_from_a_missing_parent_is_refused_by_create_naming_it(sagemaker, s3, curve_image):
    s3.put_object(Bucket="ml-bucket", Key="data/curve/x.csv", Body=b"1\n")
    name, parent = f"api-tune-warm-{uuid.uuid4().hex[:8]}", f"api-tune-gone-{uuid.uuid4().hex[:8]}"
    request = tuning_request(name, curve_image)
    request["WarmStartConfig"] = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": parent}],
        "WarmStartType": "IdenticalDataAndAlgorithm",
    }

    with pytest.raises(sagemaker.exceptions.ClientError, match=parent) as raised:
        sagemaker.create_hyper_parameter_tuning_job(**request)
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(sagemaker.exceptions.ClientError, match="does not exist"):
        sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)


def test_under_warm_start_the_best_trial_is_the_jobs_own_and_the_overall_best_counts_its_parent(
    sagemaker, s3, curve_image
):
    s3.put_object(Bucket="ml-bucket", Key="data/curve/x.csv", Body=b"1\n")
    parent, child = (f"api-tune-{role}-{uuid.uuid4().hex[:8]}" for role in ("parent", "child"))
    sagemaker.create_hyper_parameter_tuning_job(**tuning_request(parent, curve_image))
    parent_best = _wait(sagemaker, parent)["BestTrainingJob"]
    # The child searches only the costlier options: its own best cannot beat the parent's "a".
    request = tuning_request(
        child,
        curve_image,
        ParameterRanges={"CategoricalParameterRanges": [{"Name": "opt", "Values": ["b", "c"]}]},
        ResourceLimits={"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 2},
    )
    request["WarmStartConfig"] = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": parent}],
        "WarmStartType": "IdenticalDataAndAlgorithm",
    }
    sagemaker.create_hyper_parameter_tuning_job(**request)
    described = _wait(sagemaker, child)

    assert described["HyperParameterTuningJobStatus"] == "Completed", described.get("FailureReason")
    assert described["BestTrainingJob"]["TuningJobName"] == child
    assert described["BestTrainingJob"]["TunedHyperParameters"] == {"opt": "b"}
    overall = described["OverallBestTrainingJob"]
    assert (overall["TuningJobName"], overall["TrainingJobName"]) == (parent, parent_best["TrainingJobName"])


def test_a_restarted_api_takes_the_tuning_job_over_without_running_a_finished_trial_again(
    s3, curve_image, docker_client, monkeypatch, ml_home
):
    from support.api_server import CREDENTIALS_CONNECTION, serving
    from support.moto import free_port

    from ml_lifecycle.api_server.app import create_app
    from ml_lifecycle.api_server.config import ApiConfig

    monkeypatch.setenv("AIRFLOW_CONN_SAGEMAKER_API", CREDENTIALS_CONNECTION)
    s3.put_object(Bucket="ml-bucket", Key="data/curve/x.csv", Body=b"1\n")
    config = ApiConfig(
        "local",
        "aws_default",
        "sagemaker_api",
        "s3://ml-bucket/sagemaker-api",
        "us-east-1",
        "0" * 12,
        {"poll_interval_s": 0.5},
        (ROLE_ARN,),
    )
    name = f"api-tune-restart-{uuid.uuid4().hex[:8]}"
    request = tuning_request(name, curve_image)
    request["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxParallelTrainingJobs"] = 1
    created = CreatedContainers(docker_client)
    try:
        with serving(create_app(config), free_port()) as first:
            sagemaker = api_client("sagemaker", first)
            sagemaker.create_hyper_parameter_tuning_job(**request)
            _wait_for_completed(sagemaker, name, completed=1)
        # The first server is gone (its stepping stopped with it); a new one takes the tuning job over when asked.
        with serving(create_app(config), free_port()) as second:
            sagemaker = api_client("sagemaker", second)
            described = _wait(sagemaker, name)
    finally:
        created.close()

    assert described["HyperParameterTuningJobStatus"] == "Completed", described.get("FailureReason")
    assert described["TrainingJobStatusCounters"]["Completed"] == 3
    trials = {j: n for j, n in created.by_job.items() if j.startswith(name)}
    assert len(trials) == 3 and len(set(trials.values())) == 1, created.by_job


def _wait_for_completed(sagemaker: Any, name: str, completed: int) -> None:
    """Wait until a tuning job has this many completed trials.

    :param sagemaker: the client.
    :param name: the tuning job.
    :param completed: how many.
    """
    for _ in range(600):
        counters = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)[
            "TrainingJobStatusCounters"
        ]
        if counters["Completed"] >= completed:
            return
        time.sleep(0.5)
    raise AssertionError(f"{name} never completed {completed} trials: {counters}")


def test_api_processes_that_find_a_tuning_job_unstepped_take_it_over_only_once(s3, curve_image, docker_client, ml_home):
    from ml_lifecycle.api_server.config import ApiConfig
    from ml_lifecycle.api_server.names import key_of
    from ml_lifecycle.api_server.operations import Operations
    from ml_lifecycle.api_server.tuning_jobs import NAME_FIELD, TuningJobApi

    s3.put_object(Bucket="ml-bucket", Key="data/curve/x.csv", Body=b"1\n")
    config = ApiConfig(
        "local", "aws_default", "sagemaker_api", "s3://ml-bucket/sagemaker-api", "us-east-1", "0" * 12,
        {"poll_interval_s": 0.5}, (ROLE_ARN,),
    )  # fmt: skip

    def api_process() -> TuningJobApi:
        """Return the tuning operations of one more API process over the same state."""
        return Operations(config).tuning

    name = f"api-tune-race-{uuid.uuid4().hex[:8]}"
    request = tuning_request(name, curve_image)
    request["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxParallelTrainingJobs"] = 1
    created = CreatedContainers(docker_client)
    first, others = api_process(), [api_process() for _ in range(4)]
    try:
        first.create(request, "AKIDTEST")
        wait_until(
            lambda: first.describe({NAME_FIELD: name})["TrainingJobStatusCounters"]["Completed"] >= 1,
            "a first trial completed",
            timeout_s=300,
        )
        first.close()  # as a process that went away: the next one asked takes the stepping over
        barrier = threading.Barrier(len(others))

        def describe(api: TuningJobApi) -> None:
            barrier.wait()
            api.describe({NAME_FIELD: name})

        threads = [threading.Thread(target=describe, args=(api,)) for api in others]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stepping = [api for api in others if key_of(name) in api.stepping]
        assert len(stepping) == 1
        wait_until(
            lambda: stepping[0].describe({NAME_FIELD: name})["HyperParameterTuningJobStatus"] != "InProgress",
            "the tuning job ended",
            timeout_s=300,
        )
        described = stepping[0].describe({NAME_FIELD: name})
    finally:
        for api in [first, *others]:
            api.close()
        created.close()

    assert described["HyperParameterTuningJobStatus"] == "Completed", described.get("FailureReason")
    trials = {j: n for j, n in created.by_job.items() if j.startswith(name)}
    assert len(trials) == 3 and set(trials.values()) == {1}, created.by_job
