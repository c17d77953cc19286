"""DescribeTrainingJob's response, from the CreateTrainingJob request a job was made with and the job's record.

Values are the job's own: what the request asked for is echoed as SageMaker echoes it, states and times come from
the record, and what we do not know (billable time, warm pools, debugger statuses) is left out rather than made up.
Timestamps are epoch seconds, as the AWS JSON 1.1 protocol sends them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ml_lifecycle.core.sagemaker_api.describe_job import epoch_s, job_description
from ml_lifecycle.core.status import JobRecord, SecondaryStatus

# Request fields a description repeats as they were sent.
ECHOED = (
    "HyperParameters",
    "AlgorithmSpecification",
    "RoleArn",
    "InputDataConfig",
    "OutputDataConfig",
    "ResourceConfig",
    "VpcConfig",
    "StoppingCondition",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
    "CheckpointConfig",
    "Environment",
    "ExperimentConfig",
    "DebugHookConfig",
    "TensorBoardOutputConfig",
    "ProfilerConfig",
    "RetryStrategy",
)
RUNNING = (SecondaryStatus.DOWNLOADING, SecondaryStatus.TRAINING)
# What SageMaker says of each secondary status in SecondaryStatusTransitions' StatusMessage (clients print it).
STATUS_MESSAGES = {
    SecondaryStatus.STARTING: "Preparing the instances for training",
    SecondaryStatus.DOWNLOADING: "Downloading input data",
    SecondaryStatus.TRAINING: "Training image download completed. Training in progress.",
    SecondaryStatus.UPLOADING: "Uploading generated training model",
    SecondaryStatus.COMPLETED: "Training job completed",
    SecondaryStatus.FAILED: "Training job failed",
    SecondaryStatus.STOPPED: "Training job stopped",
    SecondaryStatus.MAX_RUNTIME_EXCEEDED: "Training job stopped: it ran longer than MaxRuntimeInSeconds",
    SecondaryStatus.INTERRUPTED: "The spot instance was reclaimed; the job starts again on a new one",
}


def describe_training_job(
    request: Mapping[str, Any], record: JobRecord | None, created_epoch_s: float, region: str, account: str
) -> dict[str, Any]:
    """Return the DescribeTrainingJob response of a job.

    :param request: the CreateTrainingJob request it was made with.
    :param record: its record, or None before its agent wrote one.
    :param created_epoch_s: when the API accepted the request.
    :param region: the API's region.
    :param account: the API's account id.
    """
    response = job_description("TrainingJob", "training-job", ECHOED, request, record, created_epoch_s, region, account)
    response["ModelArtifacts"] = {"S3ModelArtifacts": _model_artifacts(request, record)}
    if "OutputDataConfig" in response:
        # SageMaker answers an empty KmsKeyId for none, and the SDK's Estimator.attach (best_estimator()) reads it.
        response["OutputDataConfig"] = {"KmsKeyId": "", **response["OutputDataConfig"]}
    response["SecondaryStatus"] = str(record.secondary_status) if record else SecondaryStatus.STARTING.value
    response.setdefault("StoppingCondition", {})
    if record is None:
        return response
    transitions = transitions_of(record.transitions, record.failure_reason)
    if transitions:
        response["SecondaryStatusTransitions"] = transitions
    started = next((t["StartTime"] for t in transitions if t["Status"] in RUNNING), None)
    ended = epoch_s(record.ended_at)
    if started is not None:
        response["TrainingStartTime"] = started
    if ended is not None:
        response["TrainingEndTime"] = ended
        if started is not None:
            response["TrainingTimeInSeconds"] = max(1, math.ceil(ended - started))  # whole seconds, rounded up
    if record.updated_at:
        response["LastModifiedTime"] = epoch_s(record.updated_at)
    if record.metrics:
        at = ended or epoch_s(record.updated_at) or created_epoch_s
        response["FinalMetricDataList"] = [
            {"MetricName": metric, "Value": float(value), "Timestamp": at} for metric, value in record.metrics.items()
        ]
    return response


def _model_artifacts(request: Mapping[str, Any], record: JobRecord | None) -> str:
    """Return where the model is (or will be): the record's, else SageMaker's ``<output>/<job>/output/model.tar.gz``.

    :param request: the CreateTrainingJob request.
    :param record: the job's record, or None.
    """
    if record is not None and record.artifacts.get("model"):
        return record.artifacts["model"]
    output = str(request.get("OutputDataConfig", {}).get("S3OutputPath", "")).rstrip("/")
    compressed = request.get("OutputDataConfig", {}).get("CompressionType", "GZIP") != "NONE"
    return f"{output}/{request['TrainingJobName']}/output/" + ("model.tar.gz" if compressed else "model/")


def transitions_of(transitions: list[list[str]], failure_reason: str = "") -> list[dict[str, Any]]:
    """Return SageMaker's SecondaryStatusTransitions from the record's [[status, ISO time], ...].

    :param transitions: the record's transitions, in order.
    :param failure_reason: the job's failure reason, the message of a Failed transition when there is one.
    """
    out: list[dict[str, Any]] = []
    for status, at in transitions:
        start = epoch_s(at)
        if start is None:
            continue
        if out:
            out[-1]["EndTime"] = start
        message = STATUS_MESSAGES.get(status, status)
        if status == SecondaryStatus.FAILED and failure_reason:
            message = failure_reason
        out.append({"Status": status, "StartTime": start, "StatusMessage": message})
    return out
