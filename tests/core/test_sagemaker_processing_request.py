"""CreateProcessingJob field by field: inputs, outputs, cluster, app specification and network in
ProcessOnEC2Operator's terms, fields refused by name, and every field of botocore's input shape has a rule."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from support.field_tables import unruled_and_foreign

from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.sagemaker_api.processing import PROCESSING_RULES, processing_kwargs

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/split:1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BASE: dict[str, Any] = {
    "ProcessingJobName": "split-2026-12-07",
    "ProcessingInputs": [
        {
            "InputName": "raw",
            "S3Input": {
                "S3Uri": "s3://b/raw",
                "LocalPath": "/opt/ml/processing/input",
                "S3DataType": "S3Prefix",
                "S3InputMode": "File",
            },
        }
    ],
    "ProcessingOutputConfig": {
        "Outputs": [
            {
                "OutputName": "train",
                "S3Output": {
                    "S3Uri": "s3://b/train",
                    "LocalPath": "/opt/ml/processing/train",
                    "S3UploadMode": "EndOfJob",
                },
            }
        ]
    },
    "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30}},
    "AppSpecification": {"ImageUri": IMAGE},
    "RoleArn": ROLE,
}
BASE_KWARGS = {
    "inputs": [
        {
            "name": "raw",
            "source": "s3://b/raw",
            "local_path": "/opt/ml/processing/input",
            "data_type": "S3Prefix",
            "input_mode": "File",
        }
    ],
    "outputs": [
        {
            "name": "train",
            "destination": "s3://b/train",
            "local_path": "/opt/ml/processing/train",
            "upload_mode": "EndOfJob",
        }
    ],
    "instance_count": 1,
    "instance_type": "ml.m5.large",
    "volume_size_gb": 30,
    "image_uri": IMAGE,
    "role_arn": ROLE,
}


def _with(path: str, value: Any) -> dict[str, Any]:
    """Return BASE with one field (a dotted path; ``[0]`` for a list's first item) set.

    :param path: e.g. ``NetworkConfig.EnableNetworkIsolation``.
    :param value: its value.
    """
    request = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    node: Any = request
    for part in parents:
        node = node[part[:-3]][0] if part.endswith("[0]") else node.setdefault(part, {})
    node[last] = value
    return request


def test_the_request_becomes_the_operators_parameters():
    assert processing_kwargs(BASE) == BASE_KWARGS


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            "AppSpecification.ContainerEntrypoint",
            ["python3", "/opt/ml/processing/code/p.py"],
            {"entrypoint": ["python3", "/opt/ml/processing/code/p.py"]},
        ),
        ("AppSpecification.ContainerArguments", ["--ratio", "0.8"], {"arguments": ["--ratio", "0.8"]}),
        ("Environment", {"A": "1"}, {"environment": {"A": "1"}}),
        ("StoppingCondition", {"MaxRuntimeInSeconds": 600}, {"max_runtime_s": 600}),
        ("NetworkConfig", {"EnableNetworkIsolation": True}, {"enable_network_isolation": True}),
        ("NetworkConfig", {"EnableInterContainerTrafficEncryption": False}, {}),
        (
            "NetworkConfig",
            {"VpcConfig": {"Subnets": ["subnet-1", "subnet-2"], "SecurityGroupIds": ["sg-1"]}},
            {"ec2_settings": {"subnet_id": "subnet-1", "security_group_ids": ["sg-1"]}},
        ),
        ("ProcessingResources.ClusterConfig.VolumeKmsKeyId", "key", {"ec2_settings": {"kms_key_id": "key"}}),
        ("ProcessingInputs[0].AppManaged", False, {}),
        ("Tags", [{"Key": "k", "Value": "v"}], {}),
        ("ExperimentConfig", {"ExperimentName": "e"}, {}),
    ],
)
def test_each_field_sets_its_parameter_or_nothing(path, value, expected):
    assert processing_kwargs(_with(path, value)) == {**BASE_KWARGS, **expected}


@pytest.mark.parametrize(
    ("path", "value", "key", "expected"),
    [
        ("ProcessingInputs[0].S3Input.S3DataDistributionType", "ShardedByS3Key", "distribution", "ShardedByS3Key"),
        ("ProcessingInputs[0].S3Input.S3CompressionType", "Gzip", "compression", "Gzip"),
        ("ProcessingInputs[0].S3Input.S3DataType", "ManifestFile", "data_type", "ManifestFile"),
    ],
)
def test_each_input_field_sets_its_key(path, value, key, expected):
    assert processing_kwargs(_with(path, value))["inputs"][0][key] == expected


def test_an_output_uploaded_continuously_keeps_its_mode():
    request = _with("ProcessingOutputConfig.Outputs[0].S3Output.S3UploadMode", "Continuous")
    assert processing_kwargs(request)["outputs"][0]["upload_mode"] == "Continuous"


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("ProcessingInputs[0].DatasetDefinition", {"LocalPath": "/opt/ml/processing/q"}),
        ("ProcessingInputs[0].AppManaged", True),
        ("ProcessingOutputConfig.Outputs[0].FeatureStoreOutput", {"FeatureGroupName": "g"}),
        ("ProcessingOutputConfig.KmsKeyId", "key"),
        ("NetworkConfig.EnableInterContainerTrafficEncryption", True),
        ("AppSpecification.Unknown", 1),
    ],
)
def test_a_field_that_cannot_be_honoured_is_refused_by_name(path, value):
    with pytest.raises(SpecError) as raised:
        processing_kwargs(_with(path, value))
    assert raised.value.parameter.startswith(path.replace("[0]", "[]"))


def test_an_input_without_its_s3_location_is_refused_by_index():
    request = copy.deepcopy(BASE)
    request["ProcessingInputs"].append({"InputName": "code"})
    with pytest.raises(SpecError, match=r"ProcessingInputs\[1\]"):
        processing_kwargs(request)


def test_every_field_of_botocores_input_shape_has_a_rule_or_an_ancestor_with_one_and_no_rule_is_of_another_shape():
    unruled, foreign = unruled_and_foreign("CreateProcessingJob", PROCESSING_RULES)
    assert unruled == [] and foreign == []
