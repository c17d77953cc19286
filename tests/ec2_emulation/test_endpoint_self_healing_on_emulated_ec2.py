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

import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from support.ec2_fixtures import emulated_deploy
from support.emulated_endpoints import answers_on, group_members, healthy_targets, live_revision
from support.helpers import task_context, wait_until

from ml_lifecycle import DeleteEndpointOperator
from ml_lifecycle.compute import backend_for

pytestmark = pytest.mark.docker

REGION = "us-east-1"
WAIT_S = 240.0


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
        group_name = live_revision(aws, name)["group_name"]
        target_group = live_revision(aws, name)["target_group_arn"]
        (lost,) = group_members(autoscaling, group_name)
        port = wait_until(lambda: emulator.instances.get(lost), "the first instance's boot", WAIT_S).serving_port
        wait_until(lambda: answers_on(port) == "8.0", "the first instance's model", WAIT_S)

        aws.ec2.terminate_instances(InstanceIds=[lost])

        (replacement,) = wait_until(
            lambda: group_members(autoscaling, group_name, lost), "the group's replacement", WAIT_S
        )
        # AWS registers the replacement with the group's target group; moto does not (see the module docstring).
        autoscaling.attach_load_balancer_target_groups(AutoScalingGroupName=group_name, TargetGroupARNs=[target_group])
        assert emulator.wait_ended(emulator.instance(lost)) == "ec2"
        booted = wait_until(lambda: emulator.instances.get(replacement), "the replacement's boot", WAIT_S)
        wait_until(lambda: answers_on(booted.serving_port) == "8.0", "the replacement's model", WAIT_S)
        view = wait_until(lambda: _serving(endpoints, name), "describe saying the endpoint serves", WAIT_S)
        assert view.url == deployed["url"] and view.revision == deployed["revision"]
        assert healthy_targets(elbv2, target_group) == [replacement]
        assert booted.serving_port != emulator.instance(lost).serving_port  # the emulator's ports never collide
    finally:
        DeleteEndpointOperator(task_id="delete", endpoint_name=name, compute="ec2").execute(task_context())


def _serving(endpoints: Any, name: str) -> Any:
    """Return the endpoint's view when it serves, else None.

    :param endpoints: the EC2 endpoint backend.
    :param name: the endpoint's name.
    """
    view = endpoints.describe(name)
    return view if view is not None and view.is_serving else None
