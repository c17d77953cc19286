"""CreateTrainingJob and friends through our API with boto3, unchanged: the job runs on the local engine with S3 in
moto, answers match botocore's service model, and its log is read as the SDK and the provider read it."""

from __future__ import annotations

import io
import tarfile
import uuid
from typing import Any

import pytest
from support.api_server import ROLE_ARN, ShapeChecker, api_client, training_request

pytestmark = pytest.mark.docker


def _upload_training_data(s3: Any, sample_data: Any) -> None:
    """Put the sample training data under s3://ml-bucket/data/train/.

    :param s3: the S3 client.
    :param sample_data: the sample data folder.
    """
    for path in sorted((sample_data / "train").iterdir()):
        s3.upload_file(str(path), "ml-bucket", f"data/train/{path.name}")


def test_a_training_job_runs_to_completion_and_is_described_listed_tagged_and_logged(
    sagemaker, api_url, s3, example_image, sample_data, docker_client
):
    _upload_training_data(s3, sample_data)
    name = f"api-train-{uuid.uuid4().hex[:8]}"

    arn = sagemaker.create_training_job(**training_request(name, example_image))["TrainingJobArn"]
    sagemaker.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 300}
    )

    described = sagemaker.describe_training_job(TrainingJobName=name)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    assert described["TrainingJobArn"] == arn == f"arn:aws:sagemaker:us-east-1:000000000000:training-job/{name}"
    model_uri = described["ModelArtifacts"]["S3ModelArtifacts"]
    assert model_uri == f"s3://ml-bucket/training/{name}/output/model.tar.gz"
    with tarfile.open(fileobj=io.BytesIO(s3.get_object(Bucket="ml-bucket", Key=model_uri[15:])["Body"].read())) as tar:
        assert "model.json" in tar.getnames()
    assert [t["Status"] for t in described["SecondaryStatusTransitions"]][-1] == "Completed"
    assert described["TrainingEndTime"] >= described["TrainingStartTime"] >= described["CreationTime"]
    # What the job ran on is gone once it ended: no container carries its name.
    assert not docker_client.containers.list(all=True, filters={"label": f"ml-lifecycle.job={name}"})

    listed = sagemaker.list_training_jobs(NameContains=name[-8:], StatusEquals="Completed")["TrainingJobSummaries"]
    assert [s["TrainingJobName"] for s in listed] == [name]
    assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]

    logs = api_client("logs", api_url)
    log_checker = ShapeChecker(logs)
    streams = logs.describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=f"{name}/", orderBy="LogStreamName"
    )["logStreams"]
    assert [s["logStreamName"].rsplit("-", 1)[0] for s in streams] == [f"{name}/algo-1"]
    first = logs.get_log_events(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=streams[0]["logStreamName"], startFromHead=True
    )
    messages = [e["message"] for e in first["events"]]
    assert messages and not any(m.startswith("[algo-1]") for m in messages)
    again = logs.get_log_events(
        logGroupName="/aws/sagemaker/TrainingJobs",
        logStreamName=streams[0]["logStreamName"],
        nextToken=first["nextForwardToken"],
    )
    assert again["events"] == [] and again["nextForwardToken"] == first["nextForwardToken"]
    assert {"DescribeLogStreams", "GetLogEvents"} <= set(log_checker.checked) and not log_checker.problems
    assert {"CreateTrainingJob", "DescribeTrainingJob", "ListTrainingJobs", "ListTags"} <= set(
        sagemaker.shape_checker.checked
    )


def test_a_field_that_cannot_be_honoured_is_refused_by_name_and_nothing_starts(sagemaker, example_image):
    from botocore.exceptions import ClientError

    name = f"api-refused-{uuid.uuid4().hex[:8]}"
    request = training_request(name, example_image)
    request["AlgorithmSpecification"]["TrainingInputMode"] = "Pipe"
    with pytest.raises(ClientError) as raised:
        sagemaker.create_training_job(**request)
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "AlgorithmSpecification.TrainingInputMode" in raised.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as missing:
        sagemaker.describe_training_job(TrainingJobName=name)
    assert missing.value.response["Error"]["Code"] == "ValidationException"


def test_a_taken_name_is_refused_and_a_job_stopped_at_once_ends_stopped(sagemaker, s3, example_image, sample_data):
    from botocore.exceptions import ClientError

    _upload_training_data(s3, sample_data)
    name = f"api-twice-{uuid.uuid4().hex[:8]}"
    slow = training_request(name, example_image)
    # A shell as PID 1 ignores SIGTERM unless it traps it; a job that honours a stop ends within its grace.
    slow["AlgorithmSpecification"]["ContainerEntrypoint"] = [
        "sh",
        "-c",
        "trap 'exit 143' TERM; sleep 60 & wait $!; train",
    ]
    sagemaker.create_training_job(**slow)
    with pytest.raises(ClientError) as raised:
        sagemaker.create_training_job(**training_request(name.upper(), example_image))  # names differ by more than case
    assert raised.value.response["Error"]["Code"] == "ResourceInUse"
    sagemaker.stop_training_job(TrainingJobName=name)  # at once: before its agent wrote anything, maybe
    sagemaker.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )
    assert sagemaker.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "Stopped"


def test_a_job_runs_on_through_a_restart_of_the_api(s3, example_image, sample_data, monkeypatch, ml_home):
    from support.api_server import CREDENTIALS_CONNECTION, serving
    from support.moto import free_port

    from ml_lifecycle.api_server.app import create_app
    from ml_lifecycle.api_server.config import ApiConfig

    monkeypatch.setenv("AIRFLOW_CONN_SAGEMAKER_API", CREDENTIALS_CONNECTION)
    _upload_training_data(s3, sample_data)
    config = ApiConfig(
        "local", "aws_default", "sagemaker_api", "s3://ml-bucket/sagemaker-api", "us-east-1", "0" * 12, {}, (ROLE_ARN,)
    )
    name = f"api-restart-{uuid.uuid4().hex[:8]}"
    request = training_request(name, example_image)
    request["AlgorithmSpecification"]["ContainerEntrypoint"] = ["sh", "-c", "sleep 4 && train"]
    with serving(create_app(config), free_port()) as first:
        api_client("sagemaker", first).create_training_job(**request)
    # The first server is gone; a new one (no memory of the first) reads the job from the state and its record.
    with serving(create_app(config), free_port()) as second:
        sagemaker = api_client("sagemaker", second)
        assert sagemaker.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "InProgress"
        sagemaker.get_waiter("training_job_completed_or_stopped").wait(
            TrainingJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
        assert sagemaker.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "Completed"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"OutputDataConfig": {"S3OutputPath": "file:///opt/airflow/dags"}}, "output_path"),
        ({"CheckpointConfig": {"S3Uri": "/etc"}}, "checkpoint_uri"),
        ({"RoleArn": "arn:aws:iam::000000000000:role/Admin"}, "RoleArn"),
    ],
)
def test_the_servers_files_and_roles_callers_may_not_pass_are_refused_before_anything_starts(
    sagemaker, example_image, s3, docker_client, change, field
):
    from botocore.exceptions import ClientError

    name = f"api-guard-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ClientError) as refused:
        sagemaker.create_training_job(**training_request(name, example_image, **change))
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert field in refused.value.response["Error"]["Message"]
    assert sagemaker.list_training_jobs(NameContains=name)["TrainingJobSummaries"] == []
    assert not docker_client.containers.list(all=True, filters={"label": f"ml-lifecycle.job={name}"})
