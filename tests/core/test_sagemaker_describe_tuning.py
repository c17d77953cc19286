"""DescribeHyperParameterTuningJob and its trial summaries from the tuning state: statuses, counters, the best trial,
and the CreateTrainingJob request each trial amounts to."""

from __future__ import annotations

import pytest

from ml_lifecycle.core.sagemaker_api.describe_tuning import (
    describe_tuning_job,
    last_modified_epoch_s,
    status_of,
    trial_summary,
    trial_training_request,
    tuning_summary,
)
from ml_lifecycle.core.tuning.state import Trial, TuningState

REQUEST = {
    "HyperParameterTuningJobName": "tune",
    "HyperParameterTuningJobConfig": {
        "Strategy": "Random",
        "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
        "ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2},
    },
    "TrainingJobDefinition": {
        "StaticHyperParameters": {"epochs": "3"},
        "AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File"},
        "RoleArn": "arn:aws:iam::000000000000:role/R",
        "OutputDataConfig": {"S3OutputPath": "s3://b/out"},
        "HyperParameterTuningResourceConfig": {
            "InstanceType": "ml.m5.large",
            "InstanceCount": 1,
            "VolumeSizeInGB": 30,
            "AllocationStrategy": "Prioritized",
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    },
}


def _trial(number: int, status: str, objective: float | None, reason: str = "") -> Trial:
    """Return a trial of the state below.

    :param number: its number.
    :param status: its status.
    :param objective: its objective value, or None.
    :param reason: its failure reason.
    """
    trial = Trial(number, f"tune-{number:03d}", {"x": str(number)}, {"x": number}, status=status, objective=objective)
    trial.failure_reason, trial.created_epoch_s = reason, 100.0 + number
    trial.ended_epoch_s = None if status == "InProgress" else 200.0 + number
    return trial


def _state(*trials: Trial, status: str = "InProgress") -> TuningState:
    """Return a tuning state with these trials.

    :param trials: the trials.
    :param status: its status.
    """
    return TuningState("tune", "Random", "loss", "Minimize", 50.0, list(trials), status)


@pytest.mark.parametrize(
    ("state", "stop_requested", "failure", "expected"),
    [
        (None, False, "", "InProgress"),
        (None, True, "", "Stopping"),
        (_state(), True, "", "Stopping"),
        (_state(status="Stopped"), True, "", "Stopped"),
        (_state(status="Completed"), False, "", "Completed"),
        (_state(), False, "the store is gone", "Failed"),
    ],
)
def test_the_status_follows_the_state_a_stop_and_a_failure(state, stop_requested, failure, expected):
    assert status_of(state, stop_requested, failure) == expected


def test_the_description_counts_trials_and_names_the_best_completed_one():
    state = _state(
        _trial(1, "Completed", 0.5),
        _trial(2, "Completed", 0.2),
        _trial(3, "Stopped", 0.9),
        _trial(4, "Failed", None, "exit 1"),
        _trial(5, "InProgress", None),
    )
    described = describe_tuning_job(
        REQUEST, state, 10.0, stop_requested_epoch_s=None, failure_reason="", region="us-east-1", account="0" * 12
    )

    assert described["HyperParameterTuningJobStatus"] == "InProgress"
    assert described["TrainingJobStatusCounters"] == {
        "Completed": 2,
        "InProgress": 1,
        "RetryableError": 0,
        "NonRetryableError": 1,
        "Stopped": 1,
    }
    assert described["ObjectiveStatusCounters"] == {"Succeeded": 3, "Pending": 1, "Failed": 1}
    assert described["BestTrainingJob"]["TrainingJobName"] == "tune-002"
    assert described["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"] == {
        "Type": "Minimize",
        "MetricName": "loss",
        "Value": 0.2,
    }
    assert "HyperParameterTuningEndTime" not in described and "FailureReason" not in described
    assert described["LastModifiedTime"] == 204.0  # the last change: trial 4 ended
    summary = tuning_summary(described)
    assert summary["ResourceLimits"] == REQUEST["HyperParameterTuningJobConfig"]["ResourceLimits"]
    assert summary["LastModifiedTime"] == 204.0


@pytest.mark.parametrize(
    ("state", "stop_requested_epoch_s", "expected"),
    [
        (None, None, 10.0),  # created, not started yet
        (_state(), None, 50.0),  # started
        (_state(_trial(1, "InProgress", None)), None, 101.0),  # a trial started
        (_state(_trial(1, "Completed", 0.5)), 400.0, 400.0),  # a Stop asked for
    ],
)
def test_the_last_modified_time_is_the_latest_change_known(state, stop_requested_epoch_s, expected):
    assert last_modified_epoch_s(10.0, state, stop_requested_epoch_s) == expected


def test_a_tuning_job_whose_trials_all_failed_says_why():
    state = _state(_trial(1, "Failed", None, "exit 1"), status="Failed")
    state.ended_epoch_s = 300.0
    described = describe_tuning_job(
        REQUEST, state, 10.0, stop_requested_epoch_s=None, failure_reason="", region="us-east-1", account="0" * 12
    )
    assert described["HyperParameterTuningJobStatus"] == "Failed"
    assert "exit 1" in described["FailureReason"] and described["HyperParameterTuningEndTime"] == 300.0
    assert "BestTrainingJob" not in described


def test_a_trial_summary_keeps_only_what_the_trial_knows():
    summary = trial_summary(_trial(5, "InProgress", None), _state(), "us-east-1", "0" * 12)
    assert summary == {
        "TrainingJobName": "tune-005",
        "TrainingJobArn": "arn:aws:sagemaker:us-east-1:000000000000:training-job/tune-005",
        "TuningJobName": "tune",
        "CreationTime": 105.0,
        "TrainingJobStatus": "InProgress",
        "TunedHyperParameters": {"x": "5"},
        "ObjectiveStatus": "Pending",
    }


def test_a_trials_training_request_is_the_definition_with_its_hyperparameters_on_the_instances_given():
    request = trial_training_request(REQUEST, _trial(1, "InProgress", None))
    assert request["TrainingJobName"] == "tune-001"
    assert request["HyperParameters"] == {"epochs": "3", "x": "1", "_tuning_objective_metric": "loss"}
    assert request["ResourceConfig"] == {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30}
    assert request["OutputDataConfig"] == {"S3OutputPath": "s3://b/out"}


@pytest.mark.parametrize(
    ("warm_type", "overall"),
    [("IdenticalDataAndAlgorithm", ("parent", "parent-001")), ("TransferLearning", None)],
)
def test_under_warm_start_the_best_is_this_jobs_own_and_the_overall_best_counts_the_parents(warm_type, overall):
    state = _state(_trial(1, "Completed", 0.5), _trial(2, "Completed", 0.3))
    parent = TuningState("parent", "Random", "loss", "Minimize", 1.0, [_trial(1, "Completed", 0.1)], "Completed")
    parent.trials[0].name = "parent-001"
    request = {
        **REQUEST,
        "WarmStartConfig": {
            "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "parent"}],
            "WarmStartType": warm_type,
        },
    }
    described = describe_tuning_job(
        request,
        state,
        10.0,
        stop_requested_epoch_s=None,
        failure_reason="",
        region="us-east-1",
        account="0" * 12,
        parents=[parent],
    )

    assert described["BestTrainingJob"]["TrainingJobName"] == "tune-002"
    found = described.get("OverallBestTrainingJob")
    assert ((found["TuningJobName"], found["TrainingJobName"]) if found else None) == overall
