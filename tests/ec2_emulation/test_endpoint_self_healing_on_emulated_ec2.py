"""Self-healing of an EC2 endpoint on emulated instances: a serving instance that is terminated is replaced by its
Auto Scaling group, and the replacement boots, serves the model and is what the endpoint's URL leads to.

What moto does not do here, exactly:
- moto replaces a terminated instance of an Auto Scaling group, but registers the replacement only with classic load
  balancers, not with the group's target group (AWS does). The test attaches the same target group again, an
  idempotent call on AWS, which makes moto register the group's instances.
- moto's load balancer routes no request: "the URL leads to the replacement" is checked as AWS decides it, by the
  target group holding the replacement as its only healthy target behind the unchanged listener, and the
  replacement's own model port (published on a port of its own by the emulator) answers /ping and /invocations.
- moto reports a registered running instance healthy at once (AWS asks its /ping first), so the deploy and describe
  may call an instance healthy before its model answers; the test itself waits until each instance's model answers on
  its own port, which the emulated instance really serves.
"""

from __future__ import annotations

import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from support.ec2_fixtures import BUCKET, emulated_deploy
from support.helpers import task_context

from ml_lifecycle import DeleteEndpointOperator
from ml_lifecycle.compute import backend_for

pytestmark = pytest.mark.docker

REGION = "us-east-1"
WAIT_S = 240.0


def _invoke(port: int) -> str:
    """POST one CSV row to a model port on this host and return the prediction.

    :param port: the host port the instance published its model's 8080 on.
    """
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/invocations", data=b"1,1,1,1,1,1,1,1", headers={"Content-Type": "text/csv"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode().strip()


def _wait(what: str, check: Any, timeout_s: float = WAIT_S) -> Any:
    """Poll check until it returns something truthy; fail saying what did not happen.

    :param what: what is awaited, for the message.
    :param check: returns the awaited value, or something falsy.
    :param timeout_s: how long to wait.
    """
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except OSError as err:  # a port that does not answer yet
            last = err
        else:
            if last:
                return last
        time.sleep(0.5)
    raise AssertionError(f"{what} did not happen within {timeout_s:.0f} s (last: {last!r})")


def test_a_terminated_serving_instance_is_replaced_and_the_replacement_serves_at_the_same_url(
    aws: Any, emulator: Any, pushed_image: str, tmp_path: Path, ml_home: Path
) -> None:
    elbv2, autoscaling = (
        boto3.client(n, endpoint_url=aws.endpoint, region_name=REGION) for n in ("elbv2", "autoscaling")
    )
    name = f"heal-{uuid.uuid4().hex[:8]}"
    deploy = emulated_deploy(aws, name, pushed_image, tmp_path)
    endpoints = backend_for("ec2", "aws_default").endpoints()
    try:
        deployed = deploy.execute(task_context())
        state = endpoints.describe(name)
        assert state is not None and state.is_serving, state
        group_name = _live(aws, name)["group_name"]
        target_group = _live(aws, name)["target_group_arn"]
        (lost,) = _members(autoscaling, group_name)
        assert _wait("the first instance's model", lambda: _invoke(emulator.instance(lost).serving_port)) == "8.0"

        aws.ec2.terminate_instances(InstanceIds=[lost])

        (replacement,) = _wait("the group's replacement", lambda: _members(autoscaling, group_name, lost))
        # AWS registers the replacement with the group's target group; moto does not (see the module docstring).
        autoscaling.attach_load_balancer_target_groups(AutoScalingGroupName=group_name, TargetGroupARNs=[target_group])
        assert emulator.wait_ended(emulator.instance(lost)) == "ec2"
        booted = _wait("the replacement's boot", lambda: emulator.instances.get(replacement))
        assert _wait("the replacement's model", lambda: _invoke(booted.serving_port)) == "8.0"
        view = _wait("describe saying the endpoint serves", lambda: _serving(endpoints, name))
        assert view.url == deployed["url"] and view.revision == deployed["revision"]
        assert _healthy_targets(elbv2, target_group) == [replacement]
        assert booted.serving_port != emulator.instance(lost).serving_port  # the emulator's ports never collide
    finally:
        DeleteEndpointOperator(task_id="delete", endpoint_name=name, compute="ec2").execute(task_context())


def _live(aws: Any, name: str) -> dict[str, Any]:
    """Return the endpoint's live revision from its state in S3.

    :param aws: the clients.
    :param name: the endpoint's name.
    """
    import json

    state = json.loads(aws.s3.get_object(Bucket=BUCKET, Key=f"ml-lifecycle/endpoints/{name}/state.json")["Body"].read())
    return dict(state["live"])


def _members(autoscaling: Any, group_name: str, without: str = "") -> list[str]:
    """Return the group's instances, leaving one out.

    :param autoscaling: the Auto Scaling client.
    :param group_name: the group.
    :param without: an instance id to leave out.
    """
    (group,) = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group_name])["AutoScalingGroups"]
    return sorted(i["InstanceId"] for i in group["Instances"] if i["InstanceId"] != without)


def _serving(endpoints: Any, name: str) -> Any:
    """Return the endpoint's view when it serves, else None.

    :param endpoints: the EC2 endpoint backend.
    :param name: the endpoint's name.
    """
    view = endpoints.describe(name)
    return view if view is not None and view.is_serving else None


def _healthy_targets(elbv2: Any, target_group_arn: str) -> list[str]:
    """Return the instances the target group reports healthy.

    :param elbv2: the ELBv2 client.
    :param target_group_arn: the target group.
    """
    health = elbv2.describe_target_health(TargetGroupArn=target_group_arn)["TargetHealthDescriptions"]
    return sorted(h["Target"]["Id"] for h in health if h["TargetHealth"]["State"] == "healthy")
