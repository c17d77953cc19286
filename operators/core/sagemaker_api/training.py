"""CreateTrainingJob, field by field: the request the Amazon provider's SageMakerTrainingOperator sends (its
``config``, often made by the SageMaker SDK's ``sagemaker.workflow.airflow.training_config``), turned into
TrainOnEC2Operator's keyword arguments.

Script mode arrives as the SDK sends it: ``sagemaker_program`` and ``sagemaker_submit_directory`` (the S3 URI of
sourcedir.tar.gz) among the JSON-encoded hyperparameters. The archive becomes the ``code`` channel and the submit
directory its path in the container, as SageMaker arranges a network-isolated job, so no container needs S3 access
to get its code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.sagemaker_api.builtin_metrics import builtin_metric_definitions
from ml_lifecycle.core.sagemaker_api.fields import (
    BUCKET_ENCRYPTION,
    PLAIN_TRAFFIC,
    FieldRule,
    apply_rules,
    into,
    maps_to,
    no_effect,
    refused,
    volume_rule,
    vpc_rule,
)
from ml_lifecycle.core.script_mode import CODE_CHANNEL, CONTAINER_SOURCE_ARCHIVE, SOURCE_ARCHIVE, SUBMIT_DIRECTORY

CHANNELS = "InputDataConfig[]"
S3_SOURCE = f"{CHANNELS}.DataSource.S3DataSource"
CHANNEL_FIELDS = {
    f"{CHANNELS}.ChannelName": "name",
    f"{S3_SOURCE}.S3Uri": "uri",
    f"{S3_SOURCE}.S3DataType": "data_type",
    f"{S3_SOURCE}.S3DataDistributionType": "distribution",
    f"{CHANNELS}.ContentType": "content_type",
}
FILE_MODE = "only File mode runs here (the objects are on disk before the container starts)"


def _channel_field(path: str) -> FieldRule:
    """Return the rule of a channel field, collected per channel.

    :param path: the field's path.
    """
    key = CHANNEL_FIELDS[path]

    def apply(kwargs: dict[str, Any], value: Any, indexes: tuple[int, ...]) -> None:
        kwargs.setdefault("_channels", {}).setdefault(indexes[0], {})[key] = value

    return FieldRule(path, f"`channels[name].{key}`" if key != "name" else "`channels` key", apply)


def _spot(kwargs: dict[str, Any], value: Any, _: tuple[int, ...]) -> None:
    """Set use_spot.

    :param kwargs: the keyword arguments being built.
    :param value: EnableManagedSpotTraining.
    """
    kwargs["use_spot"] = bool(value)


def _checkpoint_path(kwargs: dict[str, Any], value: Any, _: tuple[int, ...]) -> None:
    """Accept SageMaker's checkpoint folder only (it is where checkpoint_uri is synced).

    :param kwargs: the keyword arguments being built.
    :param value: CheckpointConfig.LocalPath.
    """
    if str(value).rstrip("/") != "/opt/ml/checkpoints":
        raise SpecError(
            "CheckpointConfig.LocalPath",
            f"{value!r} is not /opt/ml/checkpoints",
            "Leave it unset: checkpoints are synced there",
        )


TRAINING_RULES: tuple[FieldRule, ...] = (
    no_effect("TrainingJobName", "accepted; the job is named from the Airflow task instance (a retry reattaches)"),
    maps_to("AlgorithmSpecification.TrainingImage", "image_uri"),
    refused("AlgorithmSpecification.TrainingInputMode", FILE_MODE, ("File",)),
    replace(
        maps_to("AlgorithmSpecification.MetricDefinitions", "metric_definitions"),
        effect="`metric_definitions`; without it, an image named as a built-in algorithm (`.../knn`) gets the "
        "algorithm's own (k-NN's `test:accuracy`, `test:mse`)",
    ),
    maps_to("AlgorithmSpecification.ContainerEntrypoint", "entrypoint"),
    maps_to("AlgorithmSpecification.ContainerArguments", "arguments"),
    no_effect("AlgorithmSpecification.EnableSageMakerMetricsTimeSeries", "accepted; metrics are kept from the log"),
    refused(
        "AlgorithmSpecification.AlgorithmName",
        "SageMaker's built-in and Marketplace algorithms run only on SageMaker: give TrainingImage",
    ),
    refused(
        "AlgorithmSpecification.TrainingImageConfig.TrainingRepositoryAccessMode",
        "images are pulled by the engine (ECR with a token; other registries with registry_conn_id)",
        ("Platform",),
    ),
    refused(
        "AlgorithmSpecification.TrainingImageConfig.TrainingRepositoryAuthConfig",
        "a Lambda credentials provider is not called here: give the operator registry_conn_id",
    ),
    maps_to("HyperParameters", "hyperparameters", dict),
    maps_to("RoleArn", "role_arn"),
    _channel_field(f"{CHANNELS}.ChannelName"),
    _channel_field(f"{S3_SOURCE}.S3Uri"),
    _channel_field(f"{S3_SOURCE}.S3DataType"),
    _channel_field(f"{S3_SOURCE}.S3DataDistributionType"),
    _channel_field(f"{CHANNELS}.ContentType"),
    refused(f"{S3_SOURCE}.AttributeNames", "augmented manifests are not read here"),
    refused(f"{S3_SOURCE}.InstanceGroupNames", "heterogeneous clusters (instance groups) do not run here"),
    refused(f"{S3_SOURCE}.ModelAccessConfig", "JumpStart's gated models are not fetched here"),
    refused(f"{S3_SOURCE}.HubAccessConfig", "SageMaker hubs are not read here"),
    refused(f"{CHANNELS}.DataSource.FileSystemDataSource", "EFS and FSx channels are not mounted here: use S3"),
    refused(f"{CHANNELS}.DataSource.DatasetSource", "dataset sources are not read here: use S3"),
    refused(f"{CHANNELS}.CompressionType", "SageMaker decompresses only in Pipe mode", ("None",)),
    refused(f"{CHANNELS}.RecordWrapperType", "RecordIO wrapping is a Pipe-mode feature", ("None",)),
    refused(f"{CHANNELS}.InputMode", FILE_MODE, ("File",)),
    refused(f"{CHANNELS}.ShuffleConfig", "shuffling is a Pipe-mode feature"),
    maps_to("OutputDataConfig.S3OutputPath", "output_path"),
    maps_to("OutputDataConfig.CompressionType", "compression"),
    refused(
        "OutputDataConfig.KmsKeyId",
        BUCKET_ENCRYPTION,
    ),
    maps_to("ResourceConfig.InstanceType", "instance_type"),
    maps_to("ResourceConfig.InstanceCount", "instance_count"),
    volume_rule("ResourceConfig.VolumeSizeInGB"),
    into("ResourceConfig.VolumeKmsKeyId", "ec2_settings", "kms_key_id"),
    no_effect("ResourceConfig.KeepAlivePeriodInSeconds", "accepted; instances are not kept warm between jobs"),
    refused("ResourceConfig.InstanceGroups", "heterogeneous clusters (instance groups) do not run here"),
    refused("ResourceConfig.TrainingPlanArn", "SageMaker training plans reserve SageMaker's capacity only"),
    refused("ResourceConfig.InstancePlacementConfig", "SageMaker training plans reserve SageMaker's capacity only"),
    refused("ResourceConfig.InstancePreferences", "give one InstanceType"),
    refused("ResourceConfig.SelectedInstanceType", "give InstanceType"),
    refused("ResourceConfig.SelectedInstanceCount", "give InstanceCount"),
    vpc_rule("Subnets"),
    vpc_rule("SecurityGroupIds"),
    maps_to("StoppingCondition.MaxRuntimeInSeconds", "max_runtime_s"),
    maps_to("StoppingCondition.MaxWaitTimeInSeconds", "max_wait_s"),
    no_effect("StoppingCondition.MaxPendingTimeInSeconds", "accepted; nothing waits for SageMaker capacity here"),
    FieldRule("EnableManagedSpotTraining", "`use_spot`", _spot),
    maps_to("EnableNetworkIsolation", "enable_network_isolation", bool),
    refused(
        "EnableInterContainerTrafficEncryption",
        PLAIN_TRAFFIC,
        (False,),
    ),
    maps_to("CheckpointConfig.S3Uri", "checkpoint_uri"),
    FieldRule("CheckpointConfig.LocalPath", "only /opt/ml/checkpoints", _checkpoint_path),
    maps_to("Environment", "environment", dict),
    refused("RetryStrategy", "SageMaker's own retries are not made here: give the Airflow task retries"),
    no_effect("Tags", "accepted; resources are labelled with the Airflow task instance instead"),
    no_effect("ExperimentConfig"),
    no_effect("DebugHookConfig", "accepted; SageMaker Debugger does not run here"),
    no_effect("DebugRuleConfigurations", "accepted; SageMaker Debugger does not run here"),
    no_effect("TensorBoardOutputConfig", "accepted; SageMaker Debugger does not run here"),
    no_effect("ProfilerConfig", "accepted; SageMaker's profiler does not run here"),
    no_effect("ProfilerRuleConfigurations", "accepted; SageMaker's profiler does not run here"),
    no_effect("RemoteDebugConfig"),
    no_effect("InfraCheckConfig"),
    no_effect("SessionChainingConfig"),
    no_effect("MlflowConfig", "accepted; metrics go to the job record and the task log"),
    no_effect("ModelPackageConfig", "accepted; publish with ExportArtifactsOperator"),
    refused("ServerlessJobConfig", "serverless model customization runs only on SageMaker"),
)


def training_kwargs(request: Mapping[str, Any]) -> dict[str, Any]:
    """Return TrainOnEC2Operator's keyword arguments for a CreateTrainingJob request; raise SpecError naming the
    first field that cannot be honoured.

    :param request: the request (the provider's ``config``), as botocore's input shape in JSON.
    """
    return channels_and_code(apply_rules(request, TRAINING_RULES, "CreateTrainingJob"))


def channels_and_code(kwargs: dict[str, Any], where: str = "") -> dict[str, Any]:
    """Finish a training definition's keyword arguments: the channels collected field by field, script mode's code
    channel, and a built-in algorithm's own metrics when the request gives no MetricDefinitions.

    :param kwargs: what the field rules gave (channel fields under ``_channels``).
    :param where: the path of the training definition in its request (``TrainingJobDefinition.``), for messages.
    """
    channels: dict[str, Any] = {}
    for index, fields in sorted(kwargs.pop("_channels", {}).items()):
        name = fields.pop("name", None)
        if not name or "uri" not in fields:
            raise SpecError(f"{where}InputDataConfig[{index}]", "has no ChannelName or S3Uri", "Give both")
        channels[name] = fields
    if "metric_definitions" not in kwargs and builtin_metric_definitions(kwargs.get("image_uri")):
        kwargs["metric_definitions"] = builtin_metric_definitions(kwargs.get("image_uri"))
    hyperparameters = dict(kwargs.get("hyperparameters") or {})
    submit = hyperparameters.get(SUBMIT_DIRECTORY)
    if submit is not None:
        channels[CODE_CHANNEL] = _code_channel(submit, channels)
        hyperparameters[SUBMIT_DIRECTORY] = json.dumps(CONTAINER_SOURCE_ARCHIVE)
        kwargs["hyperparameters"] = hyperparameters
    if channels:
        kwargs["channels"] = channels
    return kwargs


def _code_channel(submit: Any, channels: Mapping[str, Any]) -> dict[str, Any]:
    """Return the ``code`` channel for a script-mode job's sourcedir.tar.gz.

    :param submit: the ``sagemaker_submit_directory`` hyperparameter (JSON-encoded, as the SDK sends it).
    :param channels: the request's own channels.
    """
    try:
        uri = json.loads(submit) if isinstance(submit, str) and submit.startswith('"') else submit
    except ValueError:
        uri = submit
    where = f"HyperParameters.{SUBMIT_DIRECTORY}"
    if not isinstance(uri, str) or not uri.startswith("s3://") or not uri.endswith(".tar.gz"):
        raise SpecError(where, f"{submit!r} is not the S3 URI of a sourcedir.tar.gz", "Upload the code (the SDK does)")
    if CODE_CHANNEL in channels:
        raise SpecError(
            f"{CHANNELS}.ChannelName", f"names a channel {CODE_CHANNEL!r}", "Rename it: the code goes there"
        )
    if not uri.endswith("/" + SOURCE_ARCHIVE):
        raise SpecError(
            where, f"{uri} is not named {SOURCE_ARCHIVE}", f"Name the archive {SOURCE_ARCHIVE}, as the SDK does"
        )
    return {"uri": uri}
