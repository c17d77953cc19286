"""CreateTransformJob, field by field, with the CreateModel it runs: the Amazon provider's SageMakerTransformOperator
``config`` (``{"Model": ..., "Transform": ...}``, often made by the SDK's ``transform_config_from_estimator``), in
BatchTransformOperator's terms."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.sagemaker_api.fields import (
    BUCKET_ENCRYPTION,
    FieldRule,
    apply_rules,
    into,
    maps_to,
    no_effect,
    refused,
)
from ml_lifecycle.core.sagemaker_api.model import model_kwargs

INPUT = "TransformInput"
S3_INPUT = f"{INPUT}.DataSource.S3DataSource"

TRANSFORM_RULES: tuple[FieldRule, ...] = (
    no_effect("TransformJobName", "accepted; the job is named from the Airflow task instance (a retry reattaches)"),
    no_effect("ModelName", "accepted; the config's Model is the one run"),
    maps_to("MaxConcurrentTransforms", "max_concurrent_transforms"),
    maps_to("ModelClientConfig.InvocationsTimeoutInSeconds", "invocation_timeout_s"),
    maps_to("ModelClientConfig.InvocationsMaxRetries", "max_retries"),
    maps_to("MaxPayloadInMB", "max_payload_mb"),
    maps_to("BatchStrategy", "batch_strategy"),
    maps_to("Environment", "environment", dict),
    maps_to(f"{S3_INPUT}.S3DataType", "data_type"),
    maps_to(f"{S3_INPUT}.S3Uri", "input_uri"),
    maps_to(f"{INPUT}.ContentType", "content_type"),
    maps_to(f"{INPUT}.CompressionType", "compression_type"),
    maps_to(f"{INPUT}.SplitType", "split_type"),
    maps_to("TransformOutput.S3OutputPath", "output_uri"),
    maps_to("TransformOutput.Accept", "accept"),
    maps_to("TransformOutput.AssembleWith", "assemble_with"),
    refused(
        "TransformOutput.KmsKeyId",
        BUCKET_ENCRYPTION,
    ),
    refused("DataCaptureConfig", "batch data capture is not written here"),
    maps_to("TransformResources.InstanceType", "instance_type"),
    maps_to("TransformResources.InstanceCount", "instance_count"),
    into("TransformResources.VolumeKmsKeyId", "ec2_settings", "kms_key_id"),
    refused("TransformResources.TransformAmiVersion", "the AMI comes from ec2_settings['ami_id']"),
    maps_to("DataProcessing.InputFilter", "input_filter"),
    maps_to("DataProcessing.OutputFilter", "output_filter"),
    maps_to("DataProcessing.JoinSource", "join_source"),
    no_effect("Tags", "accepted; resources are labelled with the Airflow task instance instead"),
    no_effect("ExperimentConfig"),
)


def transform_kwargs(config: Mapping[str, Any]) -> dict[str, Any]:
    """Return BatchTransformOperator's keyword arguments for the provider's transform config.

    :param config: ``{"Model": <CreateModel request>, "Transform": <CreateTransformJob request>}``.
    """
    if not isinstance(config, Mapping) or "Transform" not in config or "Model" not in config:
        raise SpecError(
            "config",
            "has no Model or no Transform",
            'Give {"Model": <CreateModel request>, "Transform": <CreateTransformJob request>}: a model created '
            "elsewhere by name is not looked up here",
        )
    unknown = sorted(set(config) - {"Model", "Transform"})
    if unknown:
        raise SpecError(f"config.{unknown[0]}", "is not part of a transform config", "Give only Model and Transform")
    model = model_kwargs(config["Model"])
    transform = apply_rules(config["Transform"], TRANSFORM_RULES, "CreateTransformJob")
    # As on SageMaker, the transform job's environment adds to the model's and wins on the same names.
    environment = {**model.get("environment", {}), **transform.get("environment", {})}
    ec2_settings = {**model.get("ec2_settings", {}), **transform.get("ec2_settings", {})}
    kwargs = {**model, **transform}
    kwargs.pop("ec2_settings", None)
    if environment:
        kwargs["environment"] = environment
    if ec2_settings:
        kwargs["ec2_settings"] = ec2_settings
    return kwargs
