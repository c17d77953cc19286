"""CreateProcessingJob, field by field: the request the Amazon provider's SageMakerProcessingOperator sends (its
``config``) and the SageMaker SDK's processors (``ScriptProcessor.run()``, ``SKLearnProcessor``) send, turned into
ProcessOnEC2Operator's keyword arguments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.sagemaker_api.fields import (
    BUCKET_ENCRYPTION,
    PLAIN_TRAFFIC,
    FieldRule,
    apply_rules,
    into,
    maps_to,
    no_effect,
    refused,
    vpc_rule,
)

INPUTS = "ProcessingInputs[]"
S3_INPUT = f"{INPUTS}.S3Input"
OUTPUTS = "ProcessingOutputConfig.Outputs[]"
S3_OUTPUT = f"{OUTPUTS}.S3Output"
CLUSTER = "ProcessingResources.ClusterConfig"
# field path -> (which list it belongs to, the key of ProcessOnEC2Operator's input or output dict)
LIST_FIELDS = {
    f"{INPUTS}.InputName": ("_inputs", "name"),
    f"{S3_INPUT}.S3Uri": ("_inputs", "source"),
    f"{S3_INPUT}.LocalPath": ("_inputs", "local_path"),
    f"{S3_INPUT}.S3DataType": ("_inputs", "data_type"),
    f"{S3_INPUT}.S3InputMode": ("_inputs", "input_mode"),
    f"{S3_INPUT}.S3DataDistributionType": ("_inputs", "distribution"),
    f"{S3_INPUT}.S3CompressionType": ("_inputs", "compression"),
    f"{OUTPUTS}.OutputName": ("_outputs", "name"),
    f"{S3_OUTPUT}.S3Uri": ("_outputs", "destination"),
    f"{S3_OUTPUT}.LocalPath": ("_outputs", "local_path"),
    f"{S3_OUTPUT}.S3UploadMode": ("_outputs", "upload_mode"),
}


def _list_field(path: str) -> FieldRule:
    """Return the rule of an input's or output's field, collected per input or output.

    :param path: the field's path.
    """
    bucket, key = LIST_FIELDS[path]
    parameter = bucket.lstrip("_")

    def apply(kwargs: dict[str, Any], value: Any, indexes: tuple[int, ...]) -> None:
        kwargs.setdefault(bucket, {}).setdefault(indexes[0], {})[key] = value

    return FieldRule(path, f"`{parameter}[].{key}`", apply)


PROCESSING_RULES: tuple[FieldRule, ...] = (
    no_effect("ProcessingJobName", "accepted; the job is named from the Airflow task instance (a retry reattaches)"),
    *(_list_field(path) for path in LIST_FIELDS if path.startswith(INPUTS)),
    refused(f"{INPUTS}.AppManaged", "every input is staged here before the container starts", (False,)),
    refused(f"{INPUTS}.DatasetDefinition", "Athena and Redshift queries are not run here: give an S3Input"),
    *(_list_field(path) for path in LIST_FIELDS if path.startswith(OUTPUTS)),
    refused(f"{OUTPUTS}.AppManaged", "every output is uploaded here", (False,)),
    refused(f"{OUTPUTS}.FeatureStoreOutput", "Feature Store is not written here: give an S3Output"),
    refused(
        "ProcessingOutputConfig.KmsKeyId",
        BUCKET_ENCRYPTION,
    ),
    maps_to(f"{CLUSTER}.InstanceType", "instance_type"),
    maps_to(f"{CLUSTER}.InstanceCount", "instance_count"),
    maps_to(f"{CLUSTER}.VolumeSizeInGB", "volume_size_gb"),
    into(f"{CLUSTER}.VolumeKmsKeyId", "ec2_settings", "kms_key_id"),
    refused(f"{CLUSTER}.InstancePreferences", "give one InstanceType"),
    refused(f"{CLUSTER}.SelectedInstanceType", "give InstanceType"),
    refused(f"{CLUSTER}.SelectedInstanceCount", "give InstanceCount"),
    maps_to("StoppingCondition.MaxRuntimeInSeconds", "max_runtime_s"),
    maps_to("AppSpecification.ImageUri", "image_uri"),
    maps_to("AppSpecification.ContainerEntrypoint", "entrypoint", list),
    maps_to("AppSpecification.ContainerArguments", "arguments", list),
    maps_to("Environment", "environment", dict),
    refused(
        "NetworkConfig.EnableInterContainerTrafficEncryption",
        PLAIN_TRAFFIC,
        (False,),
    ),
    maps_to("NetworkConfig.EnableNetworkIsolation", "enable_network_isolation", bool),
    vpc_rule("Subnets", "NetworkConfig."),
    vpc_rule("SecurityGroupIds", "NetworkConfig."),
    maps_to("RoleArn", "role_arn"),
    no_effect("Tags", "accepted; resources are labelled with the Airflow task instance instead"),
    no_effect("ExperimentConfig"),
)


def processing_kwargs(request: Mapping[str, Any]) -> dict[str, Any]:
    """Return ProcessOnEC2Operator's keyword arguments for a CreateProcessingJob request; raise SpecError naming the
    first field that cannot be honoured.

    :param request: the request (the provider's ``config``), as botocore's input shape in JSON.
    """
    kwargs = apply_rules(request, PROCESSING_RULES, "CreateProcessingJob")
    for bucket, path, needed in (("_inputs", "ProcessingInputs", "source"), ("_outputs", OUTPUTS[:-2], "destination")):
        collected = kwargs.pop(bucket, {})
        for index, fields in sorted(collected.items()):
            if "name" not in fields or needed not in fields:
                raise SpecError(
                    f"{path}[{index}]", "has no name or no S3 location", "Give its name and an S3Input or S3Output"
                )
        if collected:
            kwargs[bucket.lstrip("_")] = [fields for _, fields in sorted(collected.items())]
    return kwargs
