"""DescribeHyperParameterTuningJob's response and its trials' HyperParameterTrainingJobSummary entries, from the
CreateHyperParameterTuningJob request and the tuning state (the Tuner's own document), and the CreateTrainingJob
request each trial amounts to (so the training-job operations describe it as SageMaker does).

Values are the tuning job's own; what we do not know (consumed resources, completion details) is left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ml_lifecycle.core.sagemaker_api.arns import resource_arn
from ml_lifecycle.core.sagemaker_api.tuning import DEFINITION_FIELDS
from ml_lifecycle.core.tuning.config import OBJECTIVE_HYPERPARAMETER
from ml_lifecycle.core.tuning.state import Trial, TrialStatus, TuningState

NOUN = "HyperParameterTuningJob"
ARN_TYPE = "hyper-parameter-tuning-job"
ECHOED = ("HyperParameterTuningJobConfig", "TrainingJobDefinition", "WarmStartConfig")
# The training definition's fields a trial's CreateTrainingJob request repeats as they were sent.
TRIAL_FIELDS = tuple(dict.fromkeys(path.split(".")[0] for path in DEFINITION_FIELDS))

# SageMaker gives OverallBestTrainingJob for this warm start type only.
IDENTICAL_WARM_START = "IdenticalDataAndAlgorithm"
POOL_AS_RESOURCES = ("InstanceType", "InstanceCount", "VolumeSizeInGB", "VolumeKmsKeyId")


def trial_training_request(request: Mapping[str, Any], trial: Trial) -> dict[str, Any]:
    """Return the CreateTrainingJob request a trial runs: the training definition with the trial's hyperparameters
    over the static ones, and ``_tuning_objective_metric``, as SageMaker runs each trial.

    :param request: the CreateHyperParameterTuningJob request.
    :param trial: the trial.
    """
    definition = request["TrainingJobDefinition"]
    objective = request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["MetricName"]
    hyperparameters = {
        **(definition.get("StaticHyperParameters") or {}),
        **trial.hyperparameters,
        OBJECTIVE_HYPERPARAMETER: objective,
    }
    fields = {field: definition[field] for field in TRIAL_FIELDS if field in definition}
    pool = definition.get("HyperParameterTuningResourceConfig")
    if pool is not None and "ResourceConfig" not in fields:
        # The SDK gives the instances this way; a trial runs on them as on a ResourceConfig.
        fields["ResourceConfig"] = {k: v for k, v in pool.items() if k in POOL_AS_RESOURCES}
    return {"TrainingJobName": trial.name, "HyperParameters": hyperparameters, **fields}


def status_of(state: TuningState | None, stop_requested: bool, failure_reason: str) -> str:
    """Return HyperParameterTuningJobStatus.

    :param state: the tuning state, or None before its first step wrote it.
    :param stop_requested: whether StopHyperParameterTuningJob was called.
    :param failure_reason: why it could not go on, when it could not (then it is Failed).
    """
    if failure_reason:
        return "Failed"
    if state is not None and state.status != "InProgress":
        return state.status
    return "Stopping" if stop_requested else "InProgress"


def describe_tuning_job(
    request: Mapping[str, Any],
    state: TuningState | None,
    created_epoch_s: float,
    *,
    stop_requested_epoch_s: float | None,
    failure_reason: str,
    region: str,
    account: str,
    parents: Sequence[TuningState] = (),
) -> dict[str, Any]:
    """Return the DescribeHyperParameterTuningJob response.

    :param request: the CreateHyperParameterTuningJob request.
    :param state: the tuning state, or None before its first step wrote it.
    :param created_epoch_s: when the API accepted the request.
    :param stop_requested_epoch_s: when StopHyperParameterTuningJob was called, or None.
    :param failure_reason: why it could not go on, or "".
    :param region: the API's region.
    :param account: the API's account id.
    :param parents: the states of its warm start's parents (those found).
    """
    name = str(request[f"{NOUN}Name"])
    trials = state.trials if state is not None else []
    status = status_of(state, stop_requested_epoch_s is not None, failure_reason)
    response: dict[str, Any] = {
        f"{NOUN}Name": name,
        f"{NOUN}Arn": resource_arn(ARN_TYPE, name, region, account),
        **{field: request[field] for field in ECHOED if field in request},
        f"{NOUN}Status": status,
        "CreationTime": created_epoch_s,
        "LastModifiedTime": last_modified_epoch_s(created_epoch_s, state, stop_requested_epoch_s),
        "TrainingJobStatusCounters": training_counters(trials),
        "ObjectiveStatusCounters": objective_counters(trials),
    }
    if state is not None:
        if state.ended_epoch_s is not None:
            response["HyperParameterTuningEndTime"] = state.ended_epoch_s
        best = state.best()  # this tuning job's own best, as SageMaker reports it
        if best is not None:
            response["BestTrainingJob"] = trial_summary(best, state, region, account)
        warm_type = (request.get("WarmStartConfig") or {}).get("WarmStartType")
        overall = overall_best(state, parents) if warm_type == IDENTICAL_WARM_START else None
        if overall is not None:
            response["OverallBestTrainingJob"] = trial_summary(*overall, region, account)
    if status == "Failed":
        response["FailureReason"] = failure_reason or _no_trial_completed(trials)
    return response


def overall_best(state: TuningState, parents: Sequence[TuningState]) -> tuple[Trial, TuningState] | None:
    """Return the best completed trial of a tuning job and its warm start's parents, with the state it belongs to
    (SageMaker's OverallBestTrainingJob; TuneOnEC2Operator's result names the same trial), or None.

    :param state: the tuning job's state.
    :param parents: its parents' states.
    """
    best = state.best([t for parent in parents for t in parent.trials])
    if best is None:
        return None
    owner = next(s for s in (state, *parents) if any(t is best for t in s.trials))
    return best, owner


def last_modified_epoch_s(
    created_epoch_s: float, state: TuningState | None, stop_requested_epoch_s: float | None
) -> float:
    """Return when the tuning job last changed, from the times we keep: its creation, its start, each trial's start
    and end, a Stop, and its end.

    :param created_epoch_s: when the API accepted it.
    :param state: its state, or None before its first step wrote it.
    :param stop_requested_epoch_s: when a Stop was asked for, or None.
    """
    times = [created_epoch_s, stop_requested_epoch_s]
    if state is not None:
        times += [state.started_epoch_s, state.ended_epoch_s]
        times += [t for trial in state.trials for t in (trial.created_epoch_s, trial.ended_epoch_s)]
    return max(t for t in times if t is not None)


def tuning_summary(description: Mapping[str, Any]) -> dict[str, Any]:
    """Return a tuning job's HyperParameterTuningJobSummary (ListHyperParameterTuningJobs) from its description.

    :param description: its DescribeHyperParameterTuningJob response.
    """
    config = description["HyperParameterTuningJobConfig"]
    summary = {
        field: description[field]
        for field in (
            f"{NOUN}Name",
            f"{NOUN}Arn",
            f"{NOUN}Status",
            "CreationTime",
            "HyperParameterTuningEndTime",
            "LastModifiedTime",
            "TrainingJobStatusCounters",
            "ObjectiveStatusCounters",
        )
        if field in description
    }
    summary["Strategy"] = config["Strategy"]
    if "ResourceLimits" in config:
        summary["ResourceLimits"] = config["ResourceLimits"]
    return summary


def trial_summary(trial: Trial, state: TuningState, region: str, account: str) -> dict[str, Any]:
    """Return a trial's HyperParameterTrainingJobSummary.

    :param trial: the trial.
    :param state: its tuning job's state.
    :param region: the API's region.
    :param account: the API's account id.
    """
    summary: dict[str, Any] = {
        "TrainingJobName": trial.name,
        "TrainingJobArn": resource_arn("training-job", trial.name, region, account),
        "TuningJobName": state.tuning_job_name,
        # A state written before trials kept their start: the tuning job's start, which no trial precedes.
        "CreationTime": trial.created_epoch_s if trial.created_epoch_s is not None else state.started_epoch_s,
        "TrainingJobStatus": str(trial.status),
        "TunedHyperParameters": dict(trial.hyperparameters),
        "ObjectiveStatus": _objective_status(trial),
    }
    if trial.ended_epoch_s is not None:
        summary["TrainingEndTime"] = trial.ended_epoch_s
    if trial.failure_reason and trial.status != TrialStatus.COMPLETED:
        summary["FailureReason"] = trial.failure_reason
    if trial.objective is not None:
        summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
            "Type": state.objective_type,
            "MetricName": state.objective_metric,
            "Value": float(trial.objective),
        }
    return summary


def training_counters(trials: list[Trial]) -> dict[str, int]:
    """Return TrainingJobStatusCounters (a failed trial is a NonRetryableError: nothing here retries it).

    :param trials: the trials.
    """
    count = {status: sum(t.status == status for t in trials) for status in TrialStatus}
    return {
        "Completed": count[TrialStatus.COMPLETED],
        "InProgress": count[TrialStatus.IN_PROGRESS],
        "RetryableError": 0,
        "NonRetryableError": count[TrialStatus.FAILED],
        "Stopped": count[TrialStatus.STOPPED],
    }


def objective_counters(trials: list[Trial]) -> dict[str, int]:
    """Return ObjectiveStatusCounters: trials that reported the objective, that may still, and that did not.

    :param trials: the trials.
    """
    statuses = [_objective_status(t) for t in trials]
    return {status: statuses.count(status) for status in ("Succeeded", "Pending", "Failed")}


def _objective_status(trial: Trial) -> str:
    """Return a trial's ObjectiveStatus.

    :param trial: the trial.
    """
    if not trial.finished:
        return "Pending"
    return "Succeeded" if trial.objective is not None else "Failed"


def _no_trial_completed(trials: list[Trial]) -> str:
    """Return why a tuning job failed when its state says only that it did.

    :param trials: its trials.
    """
    reasons = sorted({t.failure_reason for t in trials if t.failure_reason})[:3]
    return f"None of its {len(trials)} trials completed with an objective value; reasons: {reasons}"
