"""CreateTrainingJob field by field: what each field of the request becomes in TrainOnEC2Operator's terms, which
are accepted with no effect, and which are refused by name; every field of botocore's input shape has a rule."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.field_tables import unruled_and_foreign

from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.sagemaker_api.training import TRAINING_RULES, training_kwargs

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/linear:1"
BASE: dict[str, Any] = {
    "TrainingJobName": "linear-2026-12-07",
    "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
    "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
    "OutputDataConfig": {"S3OutputPath": "s3://bucket/models"},
    "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
}
BASE_KWARGS = {
    "image_uri": IMAGE,
    "role_arn": "arn:aws:iam::123456789012:role/SageMakerRole",
    "output_path": "s3://bucket/models",
    "instance_type": "ml.m5.large",
    "instance_count": 1,
    "ec2_settings": {"volume_size_gb": 30},
    "max_runtime_s": 3600,
}


def _with(**fields: Any) -> dict[str, Any]:
    """Return BASE with top-level fields added or replaced (a nested dict is merged one level deep).

    :param fields: field -> value.
    """
    request = json.loads(json.dumps(BASE))
    for name, value in fields.items():
        if isinstance(value, dict) and isinstance(request.get(name), dict):
            request[name] = {**request[name], **value}
        else:
            request[name] = value
    return request


def test_the_required_fields_become_the_operators_parameters():
    assert training_kwargs(BASE) == BASE_KWARGS


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"AlgorithmSpecification": {"MetricDefinitions": [{"Name": "rmse", "Regex": "rmse=([0-9.]+)"}]}},
            {"metric_definitions": [{"Name": "rmse", "Regex": "rmse=([0-9.]+)"}]},
        ),
        (
            {"AlgorithmSpecification": {"ContainerEntrypoint": ["python3", "t.py"], "ContainerArguments": ["--x"]}},
            {"entrypoint": ["python3", "t.py"], "arguments": ["--x"]},
        ),
        ({"HyperParameters": {"epochs": "3"}}, {"hyperparameters": {"epochs": "3"}}),
        (
            {
                "InputDataConfig": [
                    {
                        "ChannelName": "train",
                        "DataSource": {
                            "S3DataSource": {
                                "S3DataType": "S3Prefix",
                                "S3Uri": "s3://bucket/train",
                                "S3DataDistributionType": "ShardedByS3Key",
                            }
                        },
                        "ContentType": "text/csv",
                        "CompressionType": "None",
                        "RecordWrapperType": "None",
                        "InputMode": "File",
                    },
                    {
                        "ChannelName": "validation",
                        "DataSource": {"S3DataSource": {"S3DataType": "ManifestFile", "S3Uri": "s3://b/v.manifest"}},
                    },
                ]
            },
            {
                "channels": {
                    "train": {
                        "uri": "s3://bucket/train",
                        "data_type": "S3Prefix",
                        "distribution": "ShardedByS3Key",
                        "content_type": "text/csv",
                    },
                    "validation": {"uri": "s3://b/v.manifest", "data_type": "ManifestFile"},
                }
            },
        ),
        ({"OutputDataConfig": {"CompressionType": "NONE"}}, {"compression": "NONE"}),
        (
            {"ResourceConfig": {"VolumeKmsKeyId": "alias/ebs", "KeepAlivePeriodInSeconds": 600}},
            {"ec2_settings": {"volume_size_gb": 30, "kms_key_id": "alias/ebs"}},
        ),
        # SageMaker takes a 1 GB storage volume; the EC2 root volume holding the data is never under 8 GB.
        ({"ResourceConfig": {"VolumeSizeInGB": 1}}, {"ec2_settings": {"volume_size_gb": 8}}),
        (
            {"VpcConfig": {"Subnets": ["subnet-1", "subnet-2"], "SecurityGroupIds": ["sg-1"]}},
            {"ec2_settings": {"volume_size_gb": 30, "subnet_id": "subnet-1", "security_group_ids": ["sg-1"]}},
        ),
        (
            {"EnableManagedSpotTraining": True, "StoppingCondition": {"MaxWaitTimeInSeconds": 7200}},
            {"use_spot": True, "max_wait_s": 7200},
        ),
        ({"EnableNetworkIsolation": True}, {"enable_network_isolation": True}),
        ({"EnableInterContainerTrafficEncryption": False}, {}),
        (
            {"CheckpointConfig": {"S3Uri": "s3://b/ckpt", "LocalPath": "/opt/ml/checkpoints/"}},
            {"checkpoint_uri": "s3://b/ckpt"},
        ),
        ({"Environment": {"A": "1"}}, {"environment": {"A": "1"}}),
        (
            {
                "Tags": [{"Key": "team", "Value": "ml"}],
                "ExperimentConfig": {"ExperimentName": "e"},
                "DebugHookConfig": {"S3OutputPath": "s3://b/debug"},
                "ProfilerConfig": {"DisableProfiler": True},
                "AlgorithmSpecification": {"EnableSageMakerMetricsTimeSeries": True},
                "StoppingCondition": {"MaxPendingTimeInSeconds": 7200},
            },
            {},  # accepted, no effect here
        ),
    ],
)
def test_each_field_sets_its_parameter(fields, expected):
    assert training_kwargs(_with(**fields)) == {**BASE_KWARGS, **expected}


@pytest.mark.parametrize(
    ("fields", "field", "advice"),
    [
        ({"AlgorithmSpecification": {"TrainingInputMode": "Pipe"}}, "AlgorithmSpecification.TrainingInputMode", "File"),
        ({"AlgorithmSpecification": {"AlgorithmName": "xgboost"}}, "AlgorithmSpecification.AlgorithmName", "TrainingImage"),
        (
            {"InputDataConfig": [{"ChannelName": "t", "DataSource": {"FileSystemDataSource": {"FileSystemId": "fs-1"}}}]},
            "InputDataConfig[].DataSource.FileSystemDataSource",
            "use S3",
        ),
        (
            {"InputDataConfig": [{"ChannelName": "t", "CompressionType": "Gzip", "DataSource": {}}]},
            "InputDataConfig[].CompressionType",
            "Pipe mode",
        ),
        ({"OutputDataConfig": {"KmsKeyId": "alias/s3"}}, "OutputDataConfig.KmsKeyId", "bucket's default"),
        (
            {"ResourceConfig": {"InstanceGroups": [{"InstanceType": "ml.m5.large", "InstanceCount": 1, "InstanceGroupName": "a"}]}},
            "ResourceConfig.InstanceGroups",
            "heterogeneous",
        ),
        ({"EnableInterContainerTrafficEncryption": True}, "EnableInterContainerTrafficEncryption", "private subnet"),
        ({"RetryStrategy": {"MaximumRetryAttempts": 2}}, "RetryStrategy", "Airflow task retries"),
        ({"CheckpointConfig": {"S3Uri": "s3://b/c", "LocalPath": "/ckpt"}}, "CheckpointConfig.LocalPath", "unset"),
        ({"SomethingNew": 1}, "SomethingNew", "README"),
        ({"ResourceConfig": {"Unknown": 1}}, "ResourceConfig.Unknown", "README"),
    ],
)  # fmt: skip
def test_a_field_that_cannot_be_honoured_is_refused_by_name_with_what_to_do(fields, field, advice):
    with pytest.raises(SpecError) as refused:
        training_kwargs(_with(**fields))
    assert refused.value.parameter == field
    assert advice in str(refused.value)


def test_script_mode_as_the_sdk_sends_it_becomes_the_code_channel_of_a_network_isolated_job():
    hyperparameters = {
        "n-estimators": "200",
        "sagemaker_program": '"train.py"',
        "sagemaker_submit_directory": '"s3://bucket/job-1/source/sourcedir.tar.gz"',
        "sagemaker_container_log_level": "20",
        "sagemaker_job_name": '"job-1"',
        "sagemaker_region": '"us-east-1"',
    }
    kwargs = training_kwargs(_with(HyperParameters=hyperparameters))
    assert kwargs["channels"] == {"code": {"uri": "s3://bucket/job-1/source/sourcedir.tar.gz"}}
    assert kwargs["hyperparameters"] == {
        **hyperparameters,
        "sagemaker_submit_directory": '"/opt/ml/input/data/code/sourcedir.tar.gz"',
    }


@pytest.mark.parametrize(
    ("submit", "advice"),
    [
        ('"file:///tmp/code"', "S3 URI of a sourcedir.tar.gz"),
        ('"s3://bucket/code/"', "S3 URI of a sourcedir.tar.gz"),
        ('"s3://bucket/code/other.tar.gz"', "Name the archive sourcedir.tar.gz"),
    ],
)
def test_script_mode_code_that_is_not_an_s3_source_archive_is_refused(submit, advice):
    with pytest.raises(SpecError, match=advice):
        training_kwargs(_with(HyperParameters={"sagemaker_program": '"t.py"', "sagemaker_submit_directory": submit}))


def test_every_field_of_botocores_input_shape_has_a_rule_or_an_ancestor_with_one():
    unruled, _ = unruled_and_foreign("CreateTrainingJob", TRAINING_RULES, max_depth=3)
    assert unruled == []
