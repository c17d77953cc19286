"""The kinds of job the API runs, each through its native operator: CreateTrainingJob is TrainOnEC2Operator's
``from_sagemaker``, CreateTransformJob BatchTransformOperator's (with the model CreateModel stored),
CreateProcessingJob ProcessOnEC2Operator's (its record kept under the API's state root)."""

from __future__ import annotations

from typing import Any

from ml_lifecycle.api_server.config import ApiConfig
from ml_lifecycle.api_server.errors import validation
from ml_lifecycle.api_server.jobs import JobKindApi
from ml_lifecycle.api_server.names import key_of, name_in
from ml_lifecycle.api_server.state import ApiState
from ml_lifecycle.core.sagemaker_api.describe_processing import describe_processing_job
from ml_lifecycle.core.sagemaker_api.describe_training import describe_training_job
from ml_lifecycle.core.sagemaker_api.describe_transform import describe_transform_job

MODELS = "models"
# Under the API's state root: the processing jobs' records (the API's own location, not one a caller chose).
PROCESSING_RECORDS = "processing-records"


def _operator_kwargs(document: dict[str, Any], config: ApiConfig, name: str) -> dict[str, Any]:
    """Return what every job's operator gets beyond its request: its name, backend and connection.

    :param document: the job's stored document.
    :param config: the API's settings.
    :param name: the job's name (the operator's task id).
    """
    return {
        "task_id": name,
        "compute": document["compute"],
        "aws_conn_id": config.aws_conn_id,
        **config.backend_options,
    }


def training_operator(document: dict[str, Any], config: ApiConfig) -> Any:
    """Return the TrainOnEC2Operator that runs a CreateTrainingJob request.

    :param document: the job's stored document.
    :param config: the API's settings.
    """
    from ml_lifecycle.train_on_ec2 import TrainOnEC2Operator

    request = document["request"]
    return TrainOnEC2Operator.from_sagemaker(request, **_operator_kwargs(document, config, request["TrainingJobName"]))


def transform_operator(document: dict[str, Any], config: ApiConfig) -> Any:
    """Return the BatchTransformOperator that runs a CreateTransformJob request with its stored model.

    :param document: the job's stored document.
    :param config: the API's settings.
    """
    from ml_lifecycle.batch_transform import BatchTransformOperator

    request = document["request"]
    job = {"Model": document["model"], "Transform": request}
    return BatchTransformOperator.from_sagemaker(job, **_operator_kwargs(document, config, request["TransformJobName"]))


def processing_operator(document: dict[str, Any], config: ApiConfig) -> Any:
    """Return the ProcessOnEC2Operator that runs a CreateProcessingJob request, its record under the state root.

    :param document: the job's stored document.
    :param config: the API's settings.
    """
    from ml_lifecycle.process_on_ec2 import ProcessOnEC2Operator

    request = document["request"]
    return ProcessOnEC2Operator.from_sagemaker(
        request,
        records_uri=f"{config.state_root.rstrip('/')}/{PROCESSING_RECORDS}",
        **_operator_kwargs(document, config, request["ProcessingJobName"]),
    )


def attach_model(document: dict[str, Any], state: ApiState) -> None:
    """Keep the CreateModel request a transform names with the job (deleting the model later changes nothing).

    :param document: the job's document being built.
    :param state: the API's stored resources.
    """
    name = name_in(document["request"], "ModelName")
    model = state.get(MODELS, key_of(name))
    if model is None:
        raise validation(f"Could not find model {name!r}: create it with CreateModel first")
    document["model"] = model["request"]


TRAINING = JobKindApi(
    "training-jobs", "Training job", "TrainingJob", "training-job", training_operator, describe_training_job
)
TRANSFORM = JobKindApi(
    "transform-jobs",
    "Transform job",
    "TransformJob",
    "transform-job",
    transform_operator,
    describe_transform_job,
    prepare=attach_model,
    role_field="ExecutionRoleArn",
    backend_prefix="transform-",
)
PROCESSING = JobKindApi(
    "processing-jobs",
    "Processing job",
    "ProcessingJob",
    "processing-job",
    processing_operator,
    describe_processing_job,
    backend_prefix="processing-",
    api_locations=("records_uri",),
)
