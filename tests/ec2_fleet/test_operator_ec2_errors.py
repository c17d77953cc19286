"""TrainOnEC2Operator(compute="ec2") refuses bad launch settings before anything is launched, without Airflow retries."""

from __future__ import annotations

import json

import boto3
import pytest
from airflow.sdk.exceptions import AirflowFailException
from support.helpers import task_context

from ml_lifecycle import TrainOnEC2Operator
from ml_lifecycle.errors import SpecError

BUCKET = "ec2-errors"


@pytest.fixture
def channel(moto_server, monkeypatch) -> str:
    """A training channel in moto's S3, with aws_default pointing at moto."""
    connection = {"conn_type": "aws", "extra": {"endpoint_url": moto_server, "region_name": "us-east-1"}}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="train/part-0.csv", Body=b"1,2\n")
    return f"s3://{BUCKET}/train"


def _operator(channel: str, **extra) -> TrainOnEC2Operator:
    """Build an EC2 training operator.

    :param channel: the train channel.
    :param extra: overrides.
    """
    args = {
        "task_id": "train",
        "compute": "ec2",
        "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/m@sha256:" + "a" * 64,
        "channels": {"train": channel},
        "output_path": f"s3://{BUCKET}/out",
        **extra,
    }
    return TrainOnEC2Operator(**args)


@pytest.mark.parametrize(
    ("settings", "mentions"),
    [
        ({"ami_id": "ami-0123456789abcdef0"}, "ami-0123456789abcdef0"),
        ({"subnet_id": "subnet-0123456789abcdef0"}, "subnet-0123456789abcdef0"),
        ({"instance_profile": "missing-profile"}, "missing-profile"),
    ],
)
def test_bad_launch_settings_fail_the_task_without_retries_and_launch_nothing(channel, moto_server, settings, mentions):
    with pytest.raises(AirflowFailException, match=mentions):
        _operator(channel, ec2_settings=settings).execute(task_context())
    ec2 = boto3.client("ec2", endpoint_url=moto_server, region_name="us-east-1")
    alive = ec2.describe_instances(Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}])
    assert alive["Reservations"] == []


def test_an_empty_channel_fails_before_anything_is_launched(channel, moto_server):
    with pytest.raises(SpecError, match=r"^channels\['train'\]: .* holds no objects"):
        _operator(f"s3://{BUCKET}/nothing-here").execute(task_context())


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ({"ec2_settings": {"volume_size_gb": 2}}, "volume_size_gb"),
        ({"ec2_settings": {"no_such_key": 1}}, "no_such_key"),
        ({"max_wait_s": 100, "use_spot": False}, "max_wait_s: is set without use_spot=True"),
        ({"max_wait_s": 10, "use_spot": True, "max_runtime_s": 60}, "max_wait_s: 10 is shorter than max_runtime_s=60"),
    ],
)
def test_bad_ec2_arguments_fail_when_the_dag_is_parsed(channel, extra, match):
    with pytest.raises(SpecError, match=match):
        _operator(channel, **extra)


def test_an_image_without_a_registry_is_refused_for_ec2(channel):
    with pytest.raises(SpecError, match=r"^image_uri: .* names no registry"):
        _operator(channel, image_uri="linear:latest").execute(task_context())
