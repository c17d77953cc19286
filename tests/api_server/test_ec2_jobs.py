"""The API runs its jobs on EC2 too (compute chosen by the server, or by a request's ``ml-lifecycle:compute`` tag):
a CreateTrainingJob against moto with emulated instances, described until Completed, its instances gone after."""

from __future__ import annotations

import uuid

import pytest
from support.api_server import CREDENTIALS_CONNECTION, ShapeChecker, api_client, serving, training_request
from support.ec2_fixtures import INSTANCE_PROFILE
from support.moto import free_port

from ml_lifecycle.api_server.app import create_app
from ml_lifecycle.api_server.config import ApiConfig

pytestmark = pytest.mark.docker


def test_a_training_job_tagged_for_ec2_runs_on_emulated_instances(
    aws,
    emulator,
    pushed_image,
    sample_data,
    monkeypatch,
):
    monkeypatch.setenv("AIRFLOW_CONN_SAGEMAKER_API", CREDENTIALS_CONNECTION)
    prefix = f"api-ec2-{uuid.uuid4().hex[:8]}"
    # The request's RoleArn: on EC2 the instances run with an instance profile holding it.
    role = aws.iam.create_role(RoleName=prefix, AssumeRolePolicyDocument='{"Version": "2012-10-17", "Statement": []}')
    aws.iam.add_role_to_instance_profile(InstanceProfileName=INSTANCE_PROFILE, RoleName=prefix)
    for path in sorted((sample_data / "train").iterdir()):
        aws.s3.upload_file(str(path), "ml-bucket", f"{prefix}/train/{path.name}")
    config = ApiConfig(
        compute="local",
        aws_conn_id="aws_default",
        credentials_conn_id="sagemaker_api",
        state_root="s3://ml-bucket/sagemaker-api",
        region="us-east-1",
        account_id="000000000000",
        backend_options={"poll_interval_s": 0.5},
        allowed_role_arns=("*",),
    )
    name = f"{prefix}-train"
    request = training_request(
        name,
        pushed_image,
        Tags=[{"Key": "ml-lifecycle:compute", "Value": "ec2"}],
        OutputDataConfig={"S3OutputPath": f"s3://ml-bucket/{prefix}/training"},
        RoleArn=role["Role"]["Arn"],
    )
    request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = f"s3://ml-bucket/{prefix}/train"
    with serving(create_app(config), free_port()) as url:
        sagemaker = api_client("sagemaker", url)
        checker = ShapeChecker(sagemaker)
        sagemaker.create_training_job(**request)
        sagemaker.get_waiter("training_job_completed_or_stopped").wait(
            TrainingJobName=name, WaiterConfig={"Delay": 2, "MaxAttempts": 150}
        )
        described = sagemaker.describe_training_job(TrainingJobName=name)

    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    model = described["ModelArtifacts"]["S3ModelArtifacts"]
    assert model == f"s3://ml-bucket/{prefix}/training/{name}/output/model.tar.gz"
    assert aws.s3.head_object(Bucket="ml-bucket", Key=model.removeprefix("s3://ml-bucket/"))["ContentLength"] > 0
    reservations = aws.ec2.describe_instances(Filters=[{"Name": "tag:ml-lifecycle.job", "Values": [name]}])
    states = {i["State"]["Name"] for r in reservations["Reservations"] for i in r["Instances"]}
    assert states and states <= {"shutting-down", "terminated"}  # it ran on EC2, and nothing of it runs on
    assert not checker.problems, checker.problems


@pytest.mark.usefixtures("aws")
def test_an_unknown_compute_tag_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SAGEMAKER_API", CREDENTIALS_CONNECTION)
    from botocore.exceptions import ClientError

    config = ApiConfig("local", "aws_default", "sagemaker_api", "s3://ml-bucket/sagemaker-api", "us-east-1", "0" * 12)
    request = training_request("api-bad-compute", "img", Tags=[{"Key": "ml-lifecycle:compute", "Value": "k8s"}])
    with serving(create_app(config), free_port()) as url, pytest.raises(ClientError) as refused:
        api_client("sagemaker", url).create_training_job(**request)
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "compute" in refused.value.response["Error"]["Message"]
