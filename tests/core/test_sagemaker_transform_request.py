"""CreateModel and CreateTransformJob field by field: the provider's transform config in BatchTransformOperator's
terms; a framework model in script mode as the SDK creates it; every field of botocore's input shapes has a rule."""

from __future__ import annotations

import copy
from typing import Any

import botocore.session
import pytest

from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.sagemaker_api.fields import rules_table
from ml_lifecycle.core.sagemaker_api.model import MODEL_RULES
from ml_lifecycle.core.sagemaker_api.transform import TRANSFORM_RULES, transform_kwargs

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
CONFIG: dict[str, Any] = {
    "Model": {
        "ModelName": "churn",
        "PrimaryContainer": {"Image": IMAGE, "ModelDataUrl": "s3://b/job/output/model.tar.gz", "Environment": {"A": "1"}},
        "ExecutionRoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
    },
    "Transform": {
        "TransformJobName": "churn-scoring",
        "ModelName": "churn",
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in"}},
            "ContentType": "text/csv",
            "SplitType": "Line",
            "CompressionType": "None",
        },
        "TransformOutput": {"S3OutputPath": "s3://b/out", "Accept": "text/csv", "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 2},
        "Environment": {"A": "2", "B": "3"},
    },
}  # fmt: skip
KWARGS = {
    "image_uri": IMAGE,
    "model_uri": "s3://b/job/output/model.tar.gz",
    "role_arn": "arn:aws:iam::123456789012:role/SageMakerRole",
    "input_uri": "s3://b/in",
    "data_type": "S3Prefix",
    "content_type": "text/csv",
    "split_type": "Line",
    "compression_type": "None",
    "output_uri": "s3://b/out",
    "accept": "text/csv",
    "assemble_with": "Line",
    "instance_type": "ml.m5.large",
    "instance_count": 2,
    "environment": {"A": "2", "B": "3"},  # the transform's environment adds to the model's and wins
}


def _with(part: str, **fields: Any) -> dict[str, Any]:
    """Return CONFIG with fields of Model or Transform added or replaced (nested dicts merged one level deep).

    :param part: ``Model`` or ``Transform``.
    :param fields: field -> value.
    """
    config = copy.deepcopy(CONFIG)
    for name, value in fields.items():
        target = config[part]
        if isinstance(value, dict) and isinstance(target.get(name), dict):
            target[name] = {**target[name], **value}
        else:
            target[name] = value
    return config


def test_the_providers_transform_config_becomes_the_operators_parameters():
    assert transform_kwargs(CONFIG) == KWARGS


@pytest.mark.parametrize(
    ("part", "fields", "expected"),
    [
        (
            "Transform",
            {
                "MaxConcurrentTransforms": 4,
                "MaxPayloadInMB": 0,
                "BatchStrategy": "SingleRecord",
                "ModelClientConfig": {"InvocationsTimeoutInSeconds": 120, "InvocationsMaxRetries": 1},
            },
            {
                "max_concurrent_transforms": 4,
                "max_payload_mb": 0,
                "batch_strategy": "SingleRecord",
                "invocation_timeout_s": 120,
                "max_retries": 1,
            },
        ),
        (
            "Transform",
            {"DataProcessing": {"InputFilter": "$[1:]", "OutputFilter": "$[0,-1]", "JoinSource": "Input"}},
            {"input_filter": "$[1:]", "output_filter": "$[0,-1]", "join_source": "Input"},
        ),
        (
            "Transform",
            {"TransformResources": {"VolumeKmsKeyId": "alias/ebs"}, "Tags": [{"Key": "k", "Value": "v"}]},
            {"ec2_settings": {"kms_key_id": "alias/ebs"}},
        ),
        (
            "Model",
            {"VpcConfig": {"Subnets": ["subnet-1", "subnet-2"], "SecurityGroupIds": ["sg-1"]}},
            {"ec2_settings": {"subnet_id": "subnet-1", "security_group_ids": ["sg-1"]}},
        ),
        (
            "Model",
            {"PrimaryContainer": {"Image": IMAGE, "ModelDataSource": {"S3DataSource": {
                "S3Uri": "s3://b/model/", "S3DataType": "S3Prefix", "CompressionType": "None"}}}},
            {"model_uri": "s3://b/model/", "environment": {"A": "2", "B": "3"}},
        ),
    ],
)  # fmt: skip
def test_each_field_sets_its_parameter(part, fields, expected):
    assert transform_kwargs(_with(part, **fields)) == {**KWARGS, **expected}


def test_one_container_in_containers_runs_as_the_primary_one():
    config = copy.deepcopy(CONFIG)
    config["Model"]["Containers"] = [config["Model"].pop("PrimaryContainer")]
    assert transform_kwargs(config) == KWARGS


def test_a_framework_model_in_script_mode_as_the_sdk_creates_it_gets_entry_point_and_source_dir():
    environment = {
        "SAGEMAKER_PROGRAM": "inference.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": "s3://b/churn/sourcedir.tar.gz",
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "10",
        "SAGEMAKER_REGION": "us-east-1",
    }
    config = _with("Model", PrimaryContainer={"Environment": environment})
    kwargs = transform_kwargs(config)
    assert (kwargs["entry_point"], kwargs["source_dir"], kwargs["container_log_level"]) == (
        "inference.py",
        "s3://b/churn/sourcedir.tar.gz",
        10,
    )
    assert kwargs["environment"] == {"SAGEMAKER_REGION": "us-east-1", "A": "2", "B": "3"}


def test_a_model_the_sdk_repacked_already_runs_as_it_is():
    environment = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}
    kwargs = transform_kwargs(_with("Model", PrimaryContainer={"Environment": environment}))
    assert "entry_point" not in kwargs and kwargs["environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == "/opt/ml/model/code"


@pytest.mark.parametrize(
    ("part", "fields", "field", "advice"),
    [
        ("Model", {"PrimaryContainer": {"Mode": "MultiModel"}}, "PrimaryContainer.Mode", "multi-model"),
        ("Model", {"PrimaryContainer": {"ModelPackageName": "arn:pkg"}}, "PrimaryContainer.ModelPackageName", "Image"),
        ("Model", {"EnableNetworkIsolation": True}, "EnableNetworkIsolation", "not network-isolated"),
        ("Model", {"Containers": [{}, {}]}, "Containers", "pipelines"),
        ("Transform", {"DataCaptureConfig": {"DestinationS3Uri": "s3://b/c"}}, "DataCaptureConfig", "not written"),
        ("Transform", {"TransformOutput": {"KmsKeyId": "alias/s3"}}, "TransformOutput.KmsKeyId", "bucket's default"),
        ("Transform", {"TransformResources": {"TransformAmiVersion": "al2-1"}}, "TransformResources.TransformAmiVersion", "ami_id"),
        ("Transform", {"Unknown": 1}, "Unknown", "README"),
    ],
)  # fmt: skip
def test_a_field_that_cannot_be_honoured_is_refused_by_name(part, fields, field, advice):
    with pytest.raises(SpecError) as refused:
        transform_kwargs(_with(part, **fields))
    assert refused.value.parameter == field and advice in str(refused.value)


def test_a_config_without_its_model_is_refused_with_what_to_give():
    with pytest.raises(SpecError, match="not looked up here"):
        transform_kwargs({"Transform": CONFIG["Transform"]})


@pytest.mark.parametrize(
    ("operation", "rules"), [("CreateModel", MODEL_RULES), ("CreateTransformJob", TRANSFORM_RULES)]
)
def test_every_field_of_botocores_input_shape_has_a_rule(operation, rules):
    model = botocore.session.get_session().get_service_model("sagemaker").operation_model(operation)
    ruled = {path for path, _ in rules_table(rules)}
    covered = {path.split(".")[0] for path in ruled} | {"Containers"}  # Containers[0] runs as PrimaryContainer
    missing = []

    def walk(shape: Any, prefix: str) -> None:
        for name, member in shape.members.items():
            path = f"{prefix}.{name}" if prefix else name
            if path in ruled or (not prefix and name not in covered):
                if not prefix and name not in covered:
                    missing.append(path)
                continue
            if member.type_name == "structure":
                walk(member, path)
            elif not any(r.startswith(path + ".") for r in ruled) and prefix:
                missing.append(path)

    walk(model.input_shape, "")
    assert missing == []
