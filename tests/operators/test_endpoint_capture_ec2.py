"""Data capture on EC2 endpoints: refused before anything is created (the capture runs on local endpoints only)."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest
from support.helpers import task_context

from ml_lifecycle import DeployEndpointOperator
from ml_lifecycle.errors import SpecError

CAPTURE = {
    "EnableCapture": True,
    "InitialSamplingPercentage": 100,
    "DestinationS3Uri": "s3://ml-bucket/capture",
    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
}


def test_an_ec2_endpoint_refuses_data_capture_before_it_creates_anything(s3, moto_server):
    ec2 = boto3.client("ec2", endpoint_url=moto_server, region_name="us-east-1")
    s3.put_object(Bucket="ml-bucket", Key="model/model.tar.gz", Body=b"not read")
    before = (_instance_ids(ec2), _keys(s3))

    with pytest.raises(SpecError, match="data_capture: is not recorded by compute='ec2' endpoints yet"):
        DeployEndpointOperator(
            task_id="deploy",
            endpoint_name=f"cap-{uuid.uuid4().hex[:8]}",
            image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/model:1",
            model_uri="s3://ml-bucket/model/model.tar.gz",
            compute="ec2",
            data_capture=CAPTURE,
        ).execute(task_context())

    assert (_instance_ids(ec2), _keys(s3)) == before


def _instance_ids(ec2: Any) -> set[str]:
    """Return the ids of every instance moto holds.

    :param ec2: an EC2 client on moto.
    """
    return {i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]}


def _keys(s3: Any) -> set[str]:
    """Return the keys in ml-bucket.

    :param s3: an S3 client on moto.
    """
    return {o["Key"] for o in s3.list_objects_v2(Bucket="ml-bucket").get("Contents", [])}
