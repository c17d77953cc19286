"""An EC2 endpoint's world on a moto server: aws_default pointing there, a bucket with two models, clients, and the
helpers the endpoint tests read the endpoint's resources with. Import the module; its fixture comes in by conftest.py."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from ml_lifecycle import DeleteEndpointOperator, DeployEndpointOperator
from support.helpers import task_context

BUCKET = "ec2-endpoints"
REGION = "us-east-1"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/serve@sha256:" + "b" * 64


@pytest.fixture
def cloud(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimpleNamespace]:
    """aws_default on moto, a bucket with two models, and clients; no endpoint instance is left running after."""
    connection = {"conn_type": "aws", "extra": {"endpoint_url": moto_server, "region_name": REGION}}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))
    clients = {
        n: boto3.client(n, endpoint_url=moto_server, region_name=REGION)
        for n in ("s3", "ec2", "elbv2", "cloudwatch", "acm", "apigatewayv2", "autoscaling")
    }
    clients["s3"].create_bucket(Bucket=BUCKET)
    for version in ("v1", "v2"):
        clients["s3"].put_object(Bucket=BUCKET, Key=f"models/{version}/model.tar.gz", Body=b"model")
    cloud = SimpleNamespace(name=f"ep-{uuid.uuid4().hex[:8]}", **clients)
    yield cloud
    mine = [{"Name": "tag:ml-lifecycle.endpoint", "Values": [cloud.name]}]
    groups = cloud.autoscaling.describe_auto_scaling_groups(Filters=mine)["AutoScalingGroups"]
    for group in groups:  # a failed test's groups would replace the instances terminated below
        cloud.autoscaling.delete_auto_scaling_group(
            AutoScalingGroupName=group["AutoScalingGroupName"], ForceDelete=True
        )
    left = instances(cloud, ("pending", "running", "stopping", "stopped"))
    if left:
        cloud.ec2.terminate_instances(InstanceIds=left)
    assert not left and not groups, f"instances left running: {left}; Auto Scaling groups left: {len(groups)}"


def instances(cloud: SimpleNamespace, states: tuple[str, ...] = ("pending", "running")) -> list[str]:
    """Return the ids of the endpoint's instances in the given states."""
    pages = cloud.ec2.get_paginator("describe_instances").paginate(
        Filters=[
            {"Name": "tag:ml-lifecycle.endpoint", "Values": [cloud.name]},
            {"Name": "instance-state-name", "Values": list(states)},
        ]
    )
    return sorted(i["InstanceId"] for p in pages for r in p["Reservations"] for i in r["Instances"])


def deploy_task(cloud: SimpleNamespace, version: str = "v1", **extra: Any) -> DeployEndpointOperator:
    """Build an EC2 deploy task of the test's endpoint."""
    args: dict[str, Any] = {
        "task_id": "deploy",
        "endpoint_name": cloud.name,
        "image_uri": IMAGE,
        "model_uri": f"s3://{BUCKET}/models/{version}/model.tar.gz",
        "compute": "ec2",
        "instance_count": 2,
        "poll_interval_s": 0.2,
        **extra,
    }
    return DeployEndpointOperator(**args)


def read_state(cloud: SimpleNamespace) -> dict[str, Any]:
    """Read the endpoint's state.json."""
    key = f"ml-lifecycle/endpoints/{cloud.name}/state.json"
    return json.loads(cloud.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def listener_weights(cloud: SimpleNamespace, listener_arn: str) -> dict[str, int]:
    """Return the listener's target group weights."""
    listener = cloud.elbv2.describe_listeners(ListenerArns=[listener_arn])["Listeners"][0]
    groups = listener["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
    return {g["TargetGroupArn"]: g["Weight"] for g in groups}


def elb_tags(cloud: SimpleNamespace, arn: str) -> dict[str, str]:
    """Return an ELBv2 resource's tags."""
    described = cloud.elbv2.describe_tags(ResourceArns=[arn])["TagDescriptions"][0]
    return {t["Key"]: t["Value"] for t in described["Tags"]}


def delete_endpoint(cloud: SimpleNamespace) -> dict[str, Any]:
    """Delete the endpoint as a teardown task would."""
    return DeleteEndpointOperator(task_id="delete", endpoint_name=cloud.name, compute="ec2").execute(task_context())


def nothing_left(cloud: SimpleNamespace) -> None:
    """Assert no API, VPC link, load balancer, target group, instance, security group or state of the endpoint remains."""
    name = f"mlc-ep-{cloud.name}"
    assert [a for a in cloud.apigatewayv2.get_apis()["Items"] if a["Name"] == name] == []
    assert [v for v in cloud.apigatewayv2.get_vpc_links()["Items"] if v["Name"] == name] == []
    balancers = cloud.elbv2.describe_load_balancers()["LoadBalancers"]
    assert [
        b for b in balancers if elb_tags(cloud, b["LoadBalancerArn"]).get("ml-lifecycle.endpoint") == cloud.name
    ] == []
    groups = cloud.elbv2.describe_target_groups()["TargetGroups"]
    assert [g for g in groups if elb_tags(cloud, g["TargetGroupArn"]).get("ml-lifecycle.endpoint") == cloud.name] == []
    assert instances(cloud, ("pending", "running", "stopping", "stopped")) == []
    security = cloud.ec2.describe_security_groups(
        Filters=[{"Name": "tag:ml-lifecycle.endpoint", "Values": [cloud.name]}]
    )
    assert security["SecurityGroups"] == []
    listed = cloud.s3.list_objects_v2(Bucket=BUCKET, Prefix=f"ml-lifecycle/endpoints/{cloud.name}/")
    assert listed.get("KeyCount", 0) == 0
