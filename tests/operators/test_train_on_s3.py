"""Training with s3:// channels, output and checkpoints through the Airflow AWS connection (moto server)."""

from __future__ import annotations

import io
import json
import tarfile

import pytest
from support.helpers import task_context

from ml_lifecycle import TrainOnEC2Operator

pytestmark = pytest.mark.docker


def test_trains_from_s3_to_s3_with_checkpoints(example_image, sample_data, s3, ml_home):
    for path in sorted((sample_data / "train").iterdir()):
        s3.upload_file(str(path), "ml-bucket", f"data/train/{path.name}")
    s3.put_object(Bucket="ml-bucket", Key="ckpt/resume.ckpt", Body=b"resume here")
    script = "cp /opt/ml/checkpoints/resume.ckpt /opt/ml/model/ && echo new > /opt/ml/checkpoints/new.ckpt && train"
    op = TrainOnEC2Operator(
        task_id="train",
        image_uri=example_image,
        channels={"train": "s3://ml-bucket/data/train"},
        output_path="s3://ml-bucket/training",
        checkpoint_uri="s3://ml-bucket/ckpt",
        entrypoint=["sh", "-c", script],
        arguments=[],
    )
    result = op.execute(task_context())

    assert result["model_uri"] == f"s3://ml-bucket/training/{result['job_name']}/output/model.tar.gz"
    body = s3.get_object(Bucket="ml-bucket", Key=f"training/{result['job_name']}/output/model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert {"model.json", "resume.ckpt"} <= set(tar.getnames())
    assert s3.get_object(Bucket="ml-bucket", Key="ckpt/new.ckpt")["Body"].read() == b"new\n"
    record = json.loads(
        s3.get_object(Bucket="ml-bucket", Key=f"training/{result['job_name']}/status.json")["Body"].read()
    )
    assert record["status"] == "Completed"
    assert record["inputs"]["train"]["objects"] == 4
    assert all(len(etag) >= 32 for etag in record["inputs"]["train"]["etags"].values())


def test_a_sagemaker_training_config_in_script_mode_runs_unchanged_through_from_sagemaker(
    docker_client, toolkit_image, sample_data, s3, ml_home, tmp_path
):
    from support.framework_image import framework_image, script_mode_sources

    from ml_lifecycle.source_code.archive import SourceCode, pack

    for path in sorted((sample_data / "train").iterdir()):
        s3.upload_file(str(path), "ml-bucket", f"data/train/{path.name}")
    source, helpers = script_mode_sources(tmp_path)
    pack(SourceCode("train.py", str(source), (str(helpers),)).members(), tmp_path / "sourcedir.tar.gz")
    s3.upload_file(str(tmp_path / "sourcedir.tar.gz"), "ml-bucket", "sdk-job/source/sourcedir.tar.gz")
    # The request the SageMaker SDK's Estimator (and sagemaker.workflow.airflow.training_config) makes in script mode.
    config = {
        "TrainingJobName": "sdk-job",
        "AlgorithmSpecification": {"TrainingImage": framework_image(docker_client, toolkit_image), "TrainingInputMode": "File"},
        "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
        "OutputDataConfig": {"S3OutputPath": "s3://ml-bucket/sdk-output"},
        "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        "HyperParameters": {
            "epochs": "4",
            "name": '"from the sdk"',
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": '"s3://ml-bucket/sdk-job/source/sourcedir.tar.gz"',
            "sagemaker_container_log_level": "20",
            "sagemaker_job_name": '"sdk-job"',
            "sagemaker_region": '"us-east-1"',
        },
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": "s3://ml-bucket/data/train",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
        ],
        "Tags": [{"Key": "team", "Value": "ml"}],
        "DebugHookConfig": {"S3OutputPath": "s3://ml-bucket/debug"},
    }  # fmt: skip
    # RoleArn is assumed through the connection (moto's STS) and served to the container as ECS serves credentials.
    operator = TrainOnEC2Operator.from_sagemaker(config, task_id="train")
    result = operator.execute(task_context(task_id="train"))

    body = s3.get_object(Bucket="ml-bucket", Key=f"sdk-output/{result['job_name']}/output/model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        trained = json.loads(tar.extractfile("result.json").read())  # type: ignore[union-attr]
    assert (trained["epochs"], trained["name"], trained["tiny"], trained["helper"]) == (
        4,
        "from the sdk",
        "tiny-ok",
        42,
    )
