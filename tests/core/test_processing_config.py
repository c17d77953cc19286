"""processingjobconfig.json and resourceconfig.json: the documents SageMaker writes to /opt/ml/config."""

from __future__ import annotations

import json

import pytest

from ml_lifecycle.core.processing_config import (
    ProcessingLayout,
    exit_message,
    processing_config_files,
    processing_job_config,
)
from ml_lifecycle.core.processing_spec import ProcessingSpec

SPEC = ProcessingSpec.build(
    image_uri="localhost:5000/ml/split:1",
    records_uri="s3://bucket/records",
    inputs=[
        {"name": "raw", "source": "s3://bucket/raw/", "local_path": "/opt/ml/processing/input"},
        {
            "name": "shards",
            "source": "s3://bucket/m.manifest",
            "local_path": "/opt/ml/processing/shards",
            "data_type": "ManifestFile",
            "distribution": "ShardedByS3Key",
            "compression": "Gzip",
        },
    ],
    outputs=[{"name": "train", "local_path": "/opt/ml/processing/train", "destination": "s3://bucket/train/"}],
    entrypoint=["python3", "/opt/program/split.py"],
    arguments=["--validation-fraction", "0.2"],
    environment={"MODE": "fast"},
    instance_type="ml.c5.xlarge",
    instance_count=3,
    volume_size_gb=50,
    max_runtime_s=3600,
    role_arn="arn:aws:iam::123456789012:role/processing",
    enable_network_isolation=True,
)


def test_the_job_config_is_the_request_as_sagemaker_names_its_fields() -> None:
    assert processing_job_config(SPEC, "Split-Job-1", "eu-west-1") == {
        "ProcessingJobArn": "arn:aws:sagemaker:eu-west-1:000000000000:processing-job/split-job-1",
        "ProcessingJobName": "Split-Job-1",
        "AppSpecification": {
            "ImageUri": "localhost:5000/ml/split:1",
            "ContainerEntrypoint": ["python3", "/opt/program/split.py"],
            "ContainerArguments": ["--validation-fraction", "0.2"],
        },
        "Environment": {"MODE": "fast"},
        "NetworkConfig": {"EnableInterContainerTrafficEncryption": False, "EnableNetworkIsolation": True},
        "ProcessingInputs": [
            {
                "InputName": "raw",
                "AppManaged": False,
                "S3Input": {
                    "S3Uri": "s3://bucket/raw/",
                    "LocalPath": "/opt/ml/processing/input",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                    "S3DataDistributionType": "FullyReplicated",
                    "S3CompressionType": "None",
                    "S3DownloadMode": "StartOfJob",
                },
            },
            {
                "InputName": "shards",
                "AppManaged": False,
                "S3Input": {
                    "S3Uri": "s3://bucket/m.manifest",
                    "LocalPath": "/opt/ml/processing/shards",
                    "S3DataType": "ManifestFile",
                    "S3InputMode": "File",
                    "S3DataDistributionType": "ShardedByS3Key",
                    "S3CompressionType": "Gzip",
                    "S3DownloadMode": "StartOfJob",
                },
            },
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "train",
                    "AppManaged": False,
                    "S3Output": {
                        "S3Uri": "s3://bucket/train/",
                        "LocalPath": "/opt/ml/processing/train",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ],
            "KmsKeyId": None,
        },
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 3,
                "InstanceType": "ml.c5.xlarge",
                "VolumeSizeInGB": 50,
                "VolumeKmsKeyId": None,
            }
        },
        "RoleArn": "arn:aws:iam::123456789012:role/processing",
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }


@pytest.mark.parametrize(
    ("entrypoint", "arguments", "app"),
    [
        ((), (), {"ContainerEntrypoint": None, "ContainerArguments": None}),
        (("sh",), (), {"ContainerEntrypoint": ["sh"], "ContainerArguments": None}),
        ((), ("--x",), {"ContainerEntrypoint": None, "ContainerArguments": ["--x"]}),
    ],
)
def test_unset_container_fields_are_null_as_sagemaker_writes_them(
    entrypoint: tuple, arguments: tuple, app: dict
) -> None:
    spec = ProcessingSpec(image_uri="img:1", records_uri="file:///r", entrypoint=entrypoint, arguments=arguments)
    assert processing_job_config(spec, "j", "us-east-1")["AppSpecification"] == {"ImageUri": "img:1", **app}


@pytest.mark.parametrize("host", ["algo-1", "algo-2", "algo-3"])
def test_each_host_gets_its_own_resource_config(host: str) -> None:
    files = processing_config_files(SPEC, "job", "us-east-1", ["algo-1", "algo-2", "algo-3"], host)
    assert sorted(files) == ["processingjobconfig.json", "resourceconfig.json"]
    # Processing's resourceconfig.json holds only these two (training's has instance groups too).
    assert json.loads(files["resourceconfig.json"]) == {"current_host": host, "hosts": ["algo-1", "algo-2", "algo-3"]}


def test_the_layout_mounts_config_output_inputs_and_outputs_where_sagemaker_puts_them() -> None:
    layout = ProcessingLayout(
        "/work/job/algo-1", {"raw": "/opt/ml/processing/input"}, {"train": "/opt/ml/processing/t"}
    )
    mounts = [(m.source, m.target, m.read_only) for m in layout.mounts({"raw": "/data/raw"})]
    assert mounts == [
        ("/work/job/algo-1/config", "/opt/ml/config", True),
        ("/work/job/algo-1/output", "/opt/ml/output", False),
        ("/data/raw", "/opt/ml/processing/input", True),
        ("/work/job/algo-1/outputs/train", "/opt/ml/processing/t", False),
    ]
    assert layout.host_outputs() == {"train": "/work/job/algo-1/outputs/train"}


def test_an_output_inside_another_outputs_folder_lives_in_its_mount_so_both_uploads_hold_its_files() -> None:
    outputs = {"output": "/opt/ml/processing/output", "evaluation": "/opt/ml/processing/output/evaluation/report"}
    layout = ProcessingLayout("/work/job/algo-1", {}, outputs)
    assert [(m.source, m.target) for m in layout.mounts({})][2:] == [
        ("/work/job/algo-1/outputs/output", "/opt/ml/processing/output")
    ]
    assert layout.host_outputs() == {
        "evaluation": "/work/job/algo-1/outputs/output/evaluation/report",
        "output": "/work/job/algo-1/outputs/output",
    }
    assert "/work/job/algo-1/outputs/output/evaluation/report" in layout.folders()


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        ([], ""),
        ([b"algo-1 done\n", b"algo-2 done\n"], "algo-1 done\nalgo-2 done\n"),  # the hosts' messages, in order
        ([b"x" * 1000, b"y" * 100], "x" * 1000 + "y" * 24),  # the first 1 KB
        ([b"x" * 1023 + "é".encode()], "x" * 1023),  # a character cut at the limit is dropped
    ],
)
def test_the_exit_message_is_the_hosts_messages_joined_up_to_1_kb(messages: list[bytes], expected: str) -> None:
    assert exit_message(messages) == expected
