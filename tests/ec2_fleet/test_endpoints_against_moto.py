"""DeployEndpointOperator(compute="ec2") against moto: create, blue/green updates, rollback and delete.

moto reports a target "healthy" as soon as a running instance is registered, "unused" (Target.InvalidState) once it
is stopped and forgets it once it is terminated; these tests use exactly that. No agent runs here: the instance side
is tested in tests/agent_instance/test_endpoint_host.py.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from support import ec2_endpoints as ep
from support.helpers import task_context

from ml_lifecycle.errors import SpecError
from ml_lifecycle.sensors.endpoint_in_service import EndpointInServiceSensor


def test_create_serves_from_healthy_targets_behind_a_tagged_load_balancer_then_delete_leaves_nothing(cloud):
    result = ep.deploy_task(cloud).execute(task_context(dag_id="d", run_id="r1"))

    state = ep.read_state(cloud)
    assert state["status"] == "InService" and state["pending"] is None
    live = state["live"]
    assert result["url"] == f"http://{state['dns_name']}" and result["revision"] == live["revision"]
    balancer = cloud.elbv2.describe_load_balancers(LoadBalancerArns=[state["load_balancer_arn"]])["LoadBalancers"][0]
    assert balancer["Scheme"] == "internal" and len(balancer["AvailabilityZones"]) >= 2
    assert balancer["SecurityGroups"] == [state["alb_security_group_id"]]
    assert ep.elb_tags(cloud, balancer["LoadBalancerArn"])["ml-lifecycle.kind"] == "endpoint"
    assert ep.listener_weights(cloud, state["listener_arn"]) == {live["target_group_arn"]: 100}
    group = cloud.elbv2.describe_target_groups(TargetGroupArns=[live["target_group_arn"]])["TargetGroups"][0]
    assert (group["Port"], group["HealthCheckPath"], group["HealthCheckIntervalSeconds"]) == (8080, "/ping", 5)
    assert (group["HealthyThresholdCount"], group["Matcher"]["HttpCode"]) == (2, "200")
    health = cloud.elbv2.describe_target_health(TargetGroupArn=live["target_group_arn"])["TargetHealthDescriptions"]
    assert sorted(h["Target"]["Id"] for h in health) == sorted(live["instance_ids"]) == ep.instances(cloud)
    assert {h["TargetHealth"]["State"] for h in health} == {"healthy"}
    reservations = cloud.ec2.describe_instances(InstanceIds=live["instance_ids"])["Reservations"]
    for instance in (i for r in reservations for i in r["Instances"]):
        tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
        assert tags["ml-lifecycle.kind"] == "endpoint" and tags["ml-lifecycle.endpoint"] == cloud.name
        assert tags["ml-lifecycle.revision"] == live["revision"] and tags["ml-lifecycle.run-id"] == "r1"
        assert [g["GroupId"] for g in instance["SecurityGroups"]] == [state["instance_security_group_id"]]
    (rule,) = cloud.ec2.describe_security_groups(GroupIds=[state["instance_security_group_id"]])["SecurityGroups"][0][
        "IpPermissions"
    ]
    assert (rule["FromPort"], rule["ToPort"]) == (8080, 8080)
    assert [p["GroupId"] for p in rule["UserIdGroupPairs"]] == [state["alb_security_group_id"]]
    assert rule["IpRanges"] == []

    sensed = EndpointInServiceSensor(task_id="sense", endpoint_name=cloud.name, compute="ec2").poke(task_context())
    assert sensed.is_done and sensed.xcom_value["revision"] == live["revision"]

    removed = ep.delete_endpoint(cloud)
    assert removed["load_balancers"] == 1 and removed["instances"] == 2 and removed["security_groups"] == 2
    ep.nothing_left(cloud)
    assert ep.delete_endpoint(cloud)["instances"] == 0  # deleting again is not an error


@pytest.mark.parametrize(
    ("shift", "expected_steps"),
    [
        (None, [100]),
        ({"type": "canary", "canary_percent": 10, "wait_s": 1}, [10, 100]),
        ({"type": "linear", "step_percent": 40, "wait_s": 1}, [40, 80, 100]),
    ],
    ids=["all_at_once", "canary", "linear"],
)
def test_an_update_shifts_traffic_to_the_new_revision_and_ends_the_old(cloud, shift, expected_steps):
    ep.deploy_task(cloud).execute(task_context())
    blue = ep.read_state(cloud)["live"]
    seen: list[int] = []
    stop = threading.Event()

    def record_weights() -> None:
        while not stop.is_set():
            state = ep.read_state(cloud)
            if state.get("pending"):
                share = state["pending"]["weight"]
                if share and (not seen or seen[-1] != share):
                    seen.append(share)
            time.sleep(0.05)

    watcher = threading.Thread(target=record_weights)
    watcher.start()
    try:
        result = ep.deploy_task(cloud, "v2", traffic_shift=shift, bake_s=1).execute(task_context())
    finally:
        stop.set()
        watcher.join()

    state = ep.read_state(cloud)
    green = state["live"]
    assert green["revision"] == result["revision"] != blue["revision"]
    assert green["model_uri"].endswith("v2/model.tar.gz")
    assert ep.listener_weights(cloud, state["listener_arn"]) == {green["target_group_arn"]: 100}
    assert ep.instances(cloud) == sorted(green["instance_ids"])
    remaining = {g["TargetGroupArn"] for g in cloud.elbv2.describe_target_groups()["TargetGroups"]}
    assert blue["target_group_arn"] not in remaining
    assert [h["outcome"] for h in state["history"]] == ["created", "updated"]
    assert set(expected_steps[:-1]) <= set(seen)  # the canary's share was written while it was watched
    ep.delete_endpoint(cloud)
    ep.nothing_left(cloud)


def test_a_green_revision_whose_instances_stop_is_rolled_back(cloud):
    ep.deploy_task(cloud).execute(task_context())
    blue = ep.read_state(cloud)["live"]

    def stop_green() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pending = ep.read_state(cloud).get("pending")
            if pending and pending["weight"] > 0:
                cloud.ec2.stop_instances(InstanceIds=pending["instance_ids"])
                return
            time.sleep(0.05)

    saboteur = threading.Thread(target=stop_green)
    saboteur.start()
    try:
        with pytest.raises(Exception, match=r"rolled back.*Target.InvalidState") as info:
            ep.deploy_task(cloud, "v2", traffic_shift={"type": "canary", "canary_percent": 20, "wait_s": 30}).execute(
                task_context()
            )
    finally:
        saboteur.join()
    assert blue["revision"] in str(info.value)
    _assert_rolled_back(cloud, blue)


def test_a_green_revision_with_too_many_5xx_is_rolled_back(cloud):
    ep.deploy_task(cloud).execute(task_context())
    state = ep.read_state(cloud)
    blue = state["live"]
    lb_dimension = state["load_balancer_arn"].split(":", 5)[-1].removeprefix("loadbalancer/")

    def inject_errors() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pending = ep.read_state(cloud).get("pending")
            if pending and pending["weight"] > 0:
                dimensions = [
                    {"Name": "TargetGroup", "Value": pending["target_group_arn"].split(":", 5)[-1]},
                    {"Name": "LoadBalancer", "Value": lb_dimension},
                ]
                now = dt.datetime.now(dt.UTC)
                cloud.cloudwatch.put_metric_data(
                    Namespace="AWS/ApplicationELB",
                    MetricData=[
                        {"MetricName": "RequestCount", "Dimensions": dimensions, "Timestamp": now, "Value": 100},
                        {
                            "MetricName": "HTTPCode_Target_5XX_Count",
                            "Dimensions": dimensions,
                            "Timestamp": now,
                            "Value": 5,
                        },
                    ],
                )
                return
            time.sleep(0.05)

    injector = threading.Thread(target=inject_errors)
    injector.start()
    try:
        with pytest.raises(Exception, match=r"rolled back.*5 of 100 requests answered 5XX"):
            ep.deploy_task(cloud, "v2", bake_s=30, max_error_rate=0.01).execute(task_context())
    finally:
        injector.join()
    _assert_rolled_back(cloud, blue)


def _assert_rolled_back(cloud: SimpleNamespace, blue: dict[str, Any]) -> None:
    """Assert blue takes every request again, unprotected from scale-in; green's instances and groups are gone; the
    state says why."""
    state = ep.read_state(cloud)
    assert state["status"] == "InService" and state["pending"] is None
    assert state["live"]["revision"] == blue["revision"]
    assert ep.listener_weights(cloud, state["listener_arn"]) == {blue["target_group_arn"]: 100}
    assert ep.instances(cloud) == sorted(blue["instance_ids"])
    mine = cloud.autoscaling.describe_auto_scaling_groups(
        Filters=[{"Name": "tag:ml-lifecycle.endpoint", "Values": [cloud.name]}]
    )["AutoScalingGroups"]
    assert [g["AutoScalingGroupName"] for g in mine] == [blue["group_name"]]
    assert {i["ProtectedFromScaleIn"] for i in mine[0]["Instances"]} == {False}
    groups = [g["TargetGroupArn"] for g in cloud.elbv2.describe_target_groups()["TargetGroups"]]
    assert [g for g in groups if ep.elb_tags(cloud, g).get("ml-lifecycle.endpoint") == cloud.name] == [
        blue["target_group_arn"]
    ]
    assert state["history"][-1]["outcome"] == "rolled_back"
    assert "rolled back" in state["failure_reason"]
    ep.delete_endpoint(cloud)
    ep.nothing_left(cloud)


@pytest.mark.parametrize(
    ("extra", "parameter"),
    [
        ({"traffic_shift": {"type": "canary", "canary_percent": 150, "wait_s": 1}}, "traffic_shift.canary_percent"),
        ({"traffic_shift": {"type": "blue_green"}}, "traffic_shift"),
        ({"max_error_rate": 2}, "max_error_rate"),
        ({"alb_subnet_ids": ["subnet-0123456789abcdef0"]}, "alb_subnet_ids"),
        ({"ingress_cidrs": ["10.0.0.300/8"]}, "ingress_cidrs"),
        ({"alb_scheme": "public"}, "alb_scheme"),
        ({"instance_type": "big"}, "instance_type"),
        ({"ec2_settings": {"subnet": "x"}}, "ec2_settings"),
    ],
)
def test_bad_input_fails_when_the_dag_is_parsed(cloud, extra, parameter):
    with pytest.raises(SpecError) as info:
        ep.deploy_task(cloud, **extra)
    assert info.value.parameter == parameter


def test_a_failed_creation_leaves_nothing_but_a_failed_state(cloud):
    vpc = cloud.ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    first = cloud.ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"][0]
    cidr = f"172.31.{224 + int(uuid.uuid4().hex[:2], 16) % 2 * 16}.0/20"
    existing = cloud.ec2.describe_subnets(Filters=[{"Name": "cidr-block", "Values": [cidr]}])["Subnets"]
    second = (
        existing[0]
        if existing
        else cloud.ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=first["AvailabilityZone"])["Subnet"]
    )
    if second["AvailabilityZone"] != first["AvailabilityZone"]:
        pytest.skip("no two subnets share a zone here")
    with pytest.raises(Exception, match="two availability zones"):
        ep.deploy_task(cloud, alb_subnet_ids=[first["SubnetId"], second["SubnetId"]]).execute(task_context())
    state = ep.read_state(cloud)
    assert state["status"] == "Failed" and "two availability zones" in state["failure_reason"]
    assert ep.instances(cloud) == []
    security = cloud.ec2.describe_security_groups(
        Filters=[{"Name": "tag:ml-lifecycle.endpoint", "Values": [cloud.name]}]
    )
    assert security["SecurityGroups"] == []
    with pytest.raises(Exception, match="Failed"):
        EndpointInServiceSensor(
            task_id="sense",
            endpoint_name=cloud.name,
            compute="ec2",
            state_uri=f"s3://{ep.BUCKET}/ml-lifecycle/endpoints/{cloud.name}",
        ).poke(task_context())


def test_a_capture_destination_the_instances_cannot_reach_is_refused_before_anything_is_made(cloud, tmp_path):
    capture = _capture(f"file://{tmp_path}/capture")
    with pytest.raises(SpecError, match="s3:// destination") as info:
        ep.deploy_task(cloud, data_capture=capture).execute(task_context())
    assert info.value.parameter == "data_capture.DestinationS3Uri"
    ep.nothing_left(cloud)


@pytest.mark.parametrize("captures", [True, False], ids=["capturing", "not_capturing"])
def test_a_capturing_revisions_group_holds_an_instance_it_scales_in_until_its_capture_is_uploaded(cloud, captures):
    capture = _capture(f"s3://{ep.BUCKET}/capture")
    ep.deploy_task(cloud, instance_count=1, **({"data_capture": capture} if captures else {})).execute(task_context())
    group = ep.read_state(cloud)["live"]["group_name"]
    hooks = cloud.autoscaling.describe_lifecycle_hooks(AutoScalingGroupName=group)["LifecycleHooks"]
    found = [(h["LifecycleHookName"], h["LifecycleTransition"], h["DefaultResult"]) for h in hooks]
    expected = [("mlc-drain-capture", "autoscaling:EC2_INSTANCE_TERMINATING", "CONTINUE")] if captures else []
    assert found == expected
    ep.delete_endpoint(cloud)
    ep.nothing_left(cloud)


def _capture(destination: str) -> dict[str, object]:
    """A DataCaptureConfig of every request's input to a destination.

    :param destination: the DestinationS3Uri.
    """
    return {
        "EnableCapture": True,
        "InitialSamplingPercentage": 100,
        "DestinationS3Uri": destination,
        "CaptureOptions": [{"CaptureMode": "Input"}],
    }
