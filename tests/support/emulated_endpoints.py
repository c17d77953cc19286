"""What the EC2 emulation's endpoint tests read: an instance's own model port, a revision's Auto Scaling group and
target group as moto reports them, and the endpoint's live revision from its state in S3."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from support.ec2_fixtures import BUCKET


def invoke_port(port: int) -> str:
    """POST one CSV row to a model port on this host and return the prediction.

    :param port: the host port an emulated instance published its model's 8080 on.
    """
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/invocations", data=b"1,1,1,1,1,1,1,1", headers={"Content-Type": "text/csv"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode().strip()


def answers_on(port: int) -> str:
    """Return the model's prediction on a port, or why it did not answer (an instance still booting).

    :param port: the host port.
    """
    try:
        return invoke_port(port)
    except OSError as err:
        return f"no answer: {err}"


def group_members(autoscaling: Any, group_name: str, without: str = "") -> list[str]:
    """Return a group's instances, leaving one out.

    :param autoscaling: the Auto Scaling client.
    :param group_name: the group.
    :param without: an instance id to leave out.
    """
    (group,) = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group_name])["AutoScalingGroups"]
    return sorted(i["InstanceId"] for i in group["Instances"] if i["InstanceId"] != without)


def healthy_targets(elbv2: Any, target_group_arn: str) -> list[str]:
    """Return the instances a target group reports healthy.

    :param elbv2: the ELBv2 client.
    :param target_group_arn: the target group.
    """
    health = elbv2.describe_target_health(TargetGroupArn=target_group_arn)["TargetHealthDescriptions"]
    return sorted(h["Target"]["Id"] for h in health if h["TargetHealth"]["State"] == "healthy")


def live_revision(aws: Any, name: str) -> dict[str, Any]:
    """Return the endpoint's live revision from its state in S3.

    :param aws: the clients (the aws fixture).
    :param name: the endpoint's name.
    """
    key = f"ml-lifecycle/endpoints/{name}/state.json"
    return dict(json.loads(aws.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())["live"])
