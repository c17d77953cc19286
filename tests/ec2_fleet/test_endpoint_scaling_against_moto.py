"""Self-healing and autoscaling of EC2 endpoints against moto: each revision is an Auto Scaling group with the load
balancer's health check; a terminated instance is replaced; request load scales it within its bounds; rollouts keep
both revisions from scaling in.

What moto does and does not do here, exactly:
- moto replaces an instance of a group that is terminated (EC2 TerminateInstances), but registers the replacement
  only with classic load balancers, not with the group's target groups (AWS registers it). The test asks moto to
  refresh the group's registrations by attaching the same target group again, an idempotent call on AWS.
- moto does not replace an instance that fails the ELB health check without being terminated.
- moto keeps the target-tracking policy but never evaluates it and computes no ALB metric: the test publishes
  RequestCountPerTarget itself and tests/support/target_tracking.py plays one evaluation of the policy.
- moto answers a registered running instance as a healthy target; no request reaches an instance here.
"""

from __future__ import annotations

import threading
import time

import pytest
from support import ec2_endpoints as ep
from support.helpers import task_context
from support.target_tracking import publish_requests_per_target, track_once

from ml_lifecycle.compute import backend_for
from ml_lifecycle.errors import SpecError


def _group(cloud, name: str) -> dict:
    """Return an Auto Scaling group as moto describes it."""
    (group,) = cloud.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    return group


def _healthy_targets(cloud, target_group_arn: str) -> list[str]:
    """Return the instances the target group reports healthy."""
    health = cloud.elbv2.describe_target_health(TargetGroupArn=target_group_arn)["TargetHealthDescriptions"]
    return sorted(h["Target"]["Id"] for h in health if h["TargetHealth"]["State"] == "healthy")


def _view(cloud):
    """Return the endpoint as DescribeEndpoint's equivalent reports it."""
    return backend_for("ec2", "aws_default").endpoints().describe(cloud.name)


def test_a_revision_is_an_auto_scaling_group_behind_the_load_balancers_health_check(cloud):
    ep.deploy_task(cloud, startup_timeout_s=120).execute(task_context())

    live = ep.read_state(cloud)["live"]
    group = _group(cloud, live["group_name"])
    assert (group["HealthCheckType"], group["HealthCheckGracePeriod"]) == ("ELB", 600 + 120)
    assert group["TargetGroupARNs"] == [live["target_group_arn"]]
    assert (group["MinSize"], group["DesiredCapacity"], group["MaxSize"]) == (2, 2, 2)
    members = sorted(i["InstanceId"] for i in group["Instances"])
    assert members == sorted(live["instance_ids"]) == ep.instances(cloud)
    assert _healthy_targets(cloud, live["target_group_arn"]) == members
    assert cloud.autoscaling.describe_policies(AutoScalingGroupName=live["group_name"])["ScalingPolicies"] == []
    template = cloud.ec2.describe_launch_template_versions(LaunchTemplateName=live["group_name"])
    data = template["LaunchTemplateVersions"][0]["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required" and data["UserData"]
    tags = {t["Key"]: t["Value"] for spec in data["TagSpecifications"] for t in spec["Tags"]}
    assert tags["ml-lifecycle.revision"] == live["revision"] and tags["ml-lifecycle.kind"] == "endpoint"

    removed = ep.delete_endpoint(cloud)
    assert removed["auto_scaling_groups"] == 1 and removed["instances"] == 2
    assert (
        cloud.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[live["group_name"]])["AutoScalingGroups"]
        == []
    )
    assert (
        cloud.ec2.describe_launch_templates(Filters=[{"Name": "launch-template-name", "Values": [live["group_name"]]}])[
            "LaunchTemplates"
        ]
        == []
    )
    ep.nothing_left(cloud)


def test_a_terminated_instance_is_replaced_and_the_endpoint_serves_again_at_the_same_url(cloud):
    first = ep.deploy_task(cloud).execute(task_context())
    live = ep.read_state(cloud)["live"]
    lost = live["instance_ids"][0]

    cloud.ec2.terminate_instances(InstanceIds=[lost])

    members = sorted(i["InstanceId"] for i in _group(cloud, live["group_name"])["Instances"])
    assert len(members) == 2 and lost not in members
    (replacement,) = set(members) - set(live["instance_ids"])
    unregistered = _view(cloud)  # describe follows the group: the replacement counts, and is not serving yet
    assert f"target {replacement} is unused (Target.NotRegistered)" in unregistered.serving_problem
    # AWS registers the replacement with the group's target group; moto 5.2.6 does not (see the module docstring).
    cloud.autoscaling.attach_load_balancer_target_groups(
        AutoScalingGroupName=live["group_name"], TargetGroupARNs=[live["target_group_arn"]]
    )
    described = cloud.ec2.describe_instances(InstanceIds=[replacement])["Reservations"][0]["Instances"][0]
    tags = {t["Key"]: t["Value"] for t in described["Tags"]}
    assert tags["ml-lifecycle.revision"] == live["revision"] and tags["ml-lifecycle.endpoint"] == cloud.name
    assert [g["GroupId"] for g in described["SecurityGroups"]] == [ep.read_state(cloud)["instance_security_group_id"]]
    view = _view(cloud)
    assert view.is_serving and view.serving_problem == "" and view.url == first["url"]
    assert _healthy_targets(cloud, live["target_group_arn"]) == members
    ep.delete_endpoint(cloud)
    ep.nothing_left(cloud)


def test_request_load_scales_out_to_the_most_instances_and_back_in_to_the_fewest(cloud):
    ep.deploy_task(
        cloud, instance_count=1, min_instances=1, max_instances=3, target_invocations_per_instance=100
    ).execute(task_context())
    live = ep.read_state(cloud)["live"]
    (policy,) = cloud.autoscaling.describe_policies(AutoScalingGroupName=live["group_name"])["ScalingPolicies"]
    config = policy["TargetTrackingConfiguration"]
    label = config["PredefinedMetricSpecification"]["ResourceLabel"]
    assert config["PredefinedMetricSpecification"]["PredefinedMetricType"] == "ALBRequestCountPerTarget"
    assert config["TargetValue"] == 100.0
    state = ep.read_state(cloud)
    assert label.startswith(state["load_balancer_arn"].split("loadbalancer/")[1] + "/targetgroup/")

    publish_requests_per_target(
        cloud.cloudwatch, label, 250.0, minutes_ago=3
    )  # the load balancer's figure (simulated; see above)
    assert track_once(cloud.autoscaling, cloud.cloudwatch, live["group_name"]) == 3
    publish_requests_per_target(cloud.cloudwatch, label, 1000.0, minutes_ago=2)
    assert track_once(cloud.autoscaling, cloud.cloudwatch, live["group_name"]) == 3  # never above max_instances
    members = sorted(i["InstanceId"] for i in _group(cloud, live["group_name"])["Instances"])
    assert len(members) == 3 and _healthy_targets(cloud, live["target_group_arn"]) == members
    view = _view(cloud)
    assert view.is_serving and view.url == f"http://{state['dns_name']}"

    publish_requests_per_target(cloud.cloudwatch, label, 1.0, minutes_ago=1)
    assert track_once(cloud.autoscaling, cloud.cloudwatch, live["group_name"]) == 1  # never below min_instances
    assert len(_group(cloud, live["group_name"])["Instances"]) == 1
    ep.delete_endpoint(cloud)
    ep.nothing_left(cloud)


def test_during_a_rollout_neither_revision_scales_in_and_afterwards_the_new_one_may(cloud):
    scaling = {"min_instances": 1, "max_instances": 3, "target_invocations_per_instance": 100}
    ep.deploy_task(cloud, **scaling).execute(task_context())
    blue = ep.read_state(cloud)["live"]
    seen: dict[str, list[bool]] = {}
    stop = threading.Event()

    def squeeze() -> None:  # while the canary is watched, low load asks both groups to scale in
        while not stop.is_set():
            pending = ep.read_state(cloud).get("pending")
            if pending and pending["weight"] > 0 and pending["group_name"] not in seen:
                for revision in (blue, pending):
                    group = _group(cloud, revision["group_name"])
                    seen[revision["group_name"]] = [i["ProtectedFromScaleIn"] for i in group["Instances"]]
                    cloud.autoscaling.set_desired_capacity(
                        AutoScalingGroupName=revision["group_name"], DesiredCapacity=1, HonorCooldown=False
                    )
                    seen[revision["group_name"]].append(len(_group(cloud, revision["group_name"])["Instances"]) == 2)
                return
            time.sleep(0.05)

    squeezer = threading.Thread(target=squeeze)
    squeezer.start()
    try:
        ep.deploy_task(
            cloud, "v2", traffic_shift={"type": "canary", "canary_percent": 10, "wait_s": 3}, **scaling
        ).execute(task_context())
    finally:
        stop.set()
        squeezer.join()

    green = ep.read_state(cloud)["live"]
    assert seen == {blue["group_name"]: [True, True, True], green["group_name"]: [True, True, True]}
    group = _group(cloud, green["group_name"])
    assert [i["ProtectedFromScaleIn"] for i in group["Instances"]] == [False] * len(group["Instances"])
    assert group["NewInstancesProtectedFromScaleIn"] is False
    ep.delete_endpoint(cloud)
    ep.nothing_left(cloud)


def test_a_launch_template_in_ec2_settings_is_the_base_the_revisions_template_overrides(cloud):
    base = cloud.ec2.create_launch_template(
        LaunchTemplateName=f"base-{cloud.name}",
        LaunchTemplateData={"ImageId": "ami-12c6146b", "KeyName": "ops", "InstanceType": "t3.nano"},
    )["LaunchTemplate"]["LaunchTemplateName"]
    try:
        ep.deploy_task(cloud, ec2_settings={"launch_template": base}).execute(task_context())
        live = ep.read_state(cloud)["live"]
        versions = cloud.ec2.describe_launch_template_versions(LaunchTemplateName=live["group_name"])
        data = versions["LaunchTemplateVersions"][0]["LaunchTemplateData"]
        assert (data["ImageId"], data["KeyName"]) == ("ami-12c6146b", "ops")  # from the base
        assert data["InstanceType"] == "m5.large"  # the endpoint's own wins
        ep.delete_endpoint(cloud)
        ep.nothing_left(cloud)
    finally:
        cloud.ec2.delete_launch_template(LaunchTemplateName=base)


@pytest.mark.parametrize(
    ("extra", "parameter"),
    [
        ({"min_instances": 3}, "min_instances"),
        ({"max_instances": 1}, "min_instances"),
        ({"max_instances": 4}, "target_invocations_per_instance"),
        ({"max_instances": 4, "target_invocations_per_instance": 0}, "target_invocations_per_instance"),
    ],
)
def test_bad_bounds_fail_when_the_dag_is_parsed(cloud, extra, parameter):
    with pytest.raises(SpecError) as info:
        ep.deploy_task(cloud, **extra)
    assert info.value.parameter == parameter
