"""Autoscaling of an EC2 endpoint on emulated instances: request load above the target scales the revision's Auto
Scaling group out within its bounds, the new instance boots, serves the model and joins the target group behind the
unchanged URL; low load scales it back in to the fewest instances, and the instance taken away really ends.

What moto does not do here, exactly (as in test_endpoint_scaling_against_moto.py):
- moto keeps the target-tracking policy but never evaluates it and computes no ALB metric: the test publishes
  RequestCountPerTarget itself and tests/support/target_tracking.py plays one evaluation of the policy, which sets
  the group's desired capacity as Application Auto Scaling would.
- moto launches the group's new instance but registers it only with classic load balancers, not with the group's
  target group (AWS does): the test attaches the same target group again, an idempotent call on AWS.
- moto's load balancer routes no request: each instance's own model port (published by the emulator) is asked.
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
from support.target_tracking import publish_requests_per_target, track_once

from ml_lifecycle import DeleteEndpointOperator
from ml_lifecycle.compute import backend_for

pytestmark = pytest.mark.docker

REGION = "us-east-1"
WAIT_S = 90.0


def test_request_load_scales_out_to_an_instance_that_serves_and_low_load_scales_back_in(
    aws: Any, emulator: Any, pushed_image: str, tmp_path: Path, ml_home: Path
) -> None:
    elbv2, autoscaling, cloudwatch = (
        boto3.client(n, endpoint_url=aws.endpoint, region_name=REGION) for n in ("elbv2", "autoscaling", "cloudwatch")
    )
    name = f"scale-{uuid.uuid4().hex[:8]}"
    scaling = {"min_instances": 1, "max_instances": 2, "target_invocations_per_instance": 100}
    deploy = emulated_deploy(aws, name, pushed_image, tmp_path, **scaling)
    endpoints = backend_for("ec2", "aws_default").endpoints()
    try:
        deployed = deploy.execute(task_context())
        live = live_revision(aws, name)
        group_name, target_group = live["group_name"], live["target_group_arn"]
        (first,) = group_members(autoscaling, group_name)
        booted_first = wait_until(lambda: emulator.instances.get(first), "the first instance's boot", WAIT_S)
        wait_until(lambda: answers_on(booted_first.serving_port) == "8.0", "the first instance's model", WAIT_S)
        (policy,) = autoscaling.describe_policies(AutoScalingGroupName=group_name)["ScalingPolicies"]
        label = policy["TargetTrackingConfiguration"]["PredefinedMetricSpecification"]["ResourceLabel"]

        # 250 requests per target per minute against a target of 100: three would be wanted, two are allowed.
        publish_requests_per_target(cloudwatch, label, 250.0, minutes_ago=2)
        assert track_once(autoscaling, cloudwatch, group_name) == 2
        members = wait_until(
            lambda: len(m := group_members(autoscaling, group_name)) == 2 and m, "the group's scale-out", WAIT_S
        )
        (added,) = [m for m in members if m != first]
        autoscaling.attach_load_balancer_target_groups(AutoScalingGroupName=group_name, TargetGroupARNs=[target_group])
        booted = wait_until(lambda: emulator.instances.get(added), "the new instance's boot", WAIT_S)
        try:
            wait_until(lambda: answers_on(booted.serving_port) == "8.0", "the new instance's model", WAIT_S)
        except TimeoutError as err:
            raise AssertionError(f"{err}; ended by {booted.terminated_by}; console: {booted.console[-3000:]}") from err
        assert healthy_targets(elbv2, target_group) == members
        view = endpoints.describe(name)
        assert view is not None and view.is_serving and view.url == deployed["url"], view

        publish_requests_per_target(cloudwatch, label, 1.0, minutes_ago=1)
        assert track_once(autoscaling, cloudwatch, group_name) == 1  # never below min_instances
        (kept,) = wait_until(
            lambda: len(m := group_members(autoscaling, group_name)) == 1 and m, "the group's scale-in", WAIT_S
        )
        (removed,) = [m for m in members if m != kept]
        assert emulator.wait_ended(emulator.instance(removed)) == "ec2"
        assert answers_on(emulator.instance(kept).serving_port) == "8.0"
        view = endpoints.describe(name)
        assert view is not None and view.is_serving and view.url == deployed["url"], view
    finally:
        DeleteEndpointOperator(task_id="delete", endpoint_name=name, compute="ec2").execute(task_context())
