"""An endpoint's Application Load Balancer: one listener (HTTP, or HTTPS with an ACM certificate) forwarding to weighted
target groups, one per revision."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, suppress
from typing import Any

from ml_lifecycle.compute.ec2.aws_refusals import refusals_of
from ml_lifecycle.compute.ec2.fleet import ClientFactory
from ml_lifecycle.core.contract import SERVING_PORT
from ml_lifecycle.core.ec2.launch import as_tag_list
from ml_lifecycle.errors import ComputeError

TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"  # TLS 1.3 and 1.2 only
HEALTH_CHECK = {
    "HealthCheckProtocol": "HTTP",
    "HealthCheckPath": "/ping",
    "HealthCheckIntervalSeconds": 5,
    "HealthCheckTimeoutSeconds": 2,  # SageMaker's /ping timeout; must stay below the interval
    "HealthyThresholdCount": 2,
    "UnhealthyThresholdCount": 2,
    "Matcher": {"HttpCode": "200"},
}
DEREGISTRATION_DELAY_S = 30  # SageMaker's grace for a serving container's requests in flight
MAX_NAME_CHARS = 32
TAG_BATCH = 20  # describe_tags takes at most 20 ARNs


ELB_RETRYABLE = frozenset({"Throttling", "ThrottlingException", "ResourceInUse", "ServiceUnavailable"})


def elb_errors(what: str) -> AbstractContextManager[None]:
    """Translate a botocore ClientError raised inside the block into a ComputeError naming the action.

    :param what: the action, for the message (``creating the load balancer``).
    """
    return refusals_of("Elastic Load Balancing", what, ELB_RETRYABLE)


def resource_name(endpoint_name: str, suffix: str = "") -> str:
    """Return a load balancer or target group name (at most 32 characters) unique to an endpoint and suffix.

    :param endpoint_name: the endpoint's name.
    :param suffix: a revision id for a target group, empty for the load balancer.
    """
    digest = hashlib.sha256(f"{endpoint_name}/{suffix}".encode()).hexdigest()[:8]
    head = endpoint_name[: MAX_NAME_CHARS - len("mlc--") - len(digest) - (len(suffix) + 1 if suffix else 0)]
    parts = ["mlc", head.strip("-"), suffix, digest]
    return "-".join(part for part in parts if part)


def forward_action(weights: Mapping[str, int]) -> list[dict[str, Any]]:
    """Return a listener's default action forwarding to target groups by weight.

    A group of weight 0 stays attached: the load balancer health-checks only groups a listener uses.

    :param weights: target group ARN -> weight 0-100.
    """
    groups = [{"TargetGroupArn": arn, "Weight": weight} for arn, weight in weights.items()]
    if not any(weight > 0 for weight in weights.values()):
        raise ComputeError("A listener needs at least one target group with a weight above 0")
    return [{"Type": "forward", "ForwardConfig": {"TargetGroups": groups}}]


class LoadBalancer:
    """ELBv2 calls for one endpoint, through a client built from the Airflow AWS connection.

    :param elbv2: builds the ELBv2 client.
    """

    def __init__(self, elbv2: ClientFactory) -> None:
        self.elbv2 = elbv2

    def create(
        self, name: str, subnet_ids: Sequence[str], security_group_id: str, scheme: str, tags: Mapping[str, str]
    ) -> tuple[str, str]:
        """Create the Application Load Balancer (or find the one of that name) and return its ARN and DNS name.

        :param name: the load balancer's name (resource_name).
        :param subnet_ids: at least two subnets in different availability zones.
        :param security_group_id: its security group.
        :param scheme: ``internet-facing`` or ``internal``.
        :param tags: ownership tags.
        """
        with elb_errors(f"creating the load balancer {name}"):
            found = self.elbv2().create_load_balancer(
                Name=name,
                Subnets=list(subnet_ids),
                SecurityGroups=[security_group_id],
                Scheme=scheme,
                Type="application",
                IpAddressType="ipv4",
                Tags=as_tag_list(tags),
            )["LoadBalancers"][0]
        return str(found["LoadBalancerArn"]), str(found["DNSName"])

    def create_target_group(self, name: str, vpc_id: str, tags: Mapping[str, str]) -> str:
        """Create a revision's target group (HTTP 8080, GET /ping every 5 s, healthy after 2) and return its ARN.

        :param name: the group's name (resource_name).
        :param vpc_id: the VPC of the instances.
        :param tags: ownership tags.
        """
        with elb_errors(f"creating the target group {name}"):
            client = self.elbv2()
            arn = str(
                client.create_target_group(
                    Name=name,
                    Protocol="HTTP",
                    Port=SERVING_PORT,
                    VpcId=vpc_id,
                    TargetType="instance",
                    Tags=as_tag_list(tags),
                    **HEALTH_CHECK,
                )["TargetGroups"][0]["TargetGroupArn"]
            )
            client.modify_target_group_attributes(
                TargetGroupArn=arn,
                Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": str(DEREGISTRATION_DELAY_S)}],
            )
        return arn

    def create_listener(
        self,
        load_balancer_arn: str,
        weights: Mapping[str, int],
        tags: Mapping[str, str],
        protocol: str = "HTTP",
        port: int = 80,
        certificate_arn: str = "",
    ) -> str:
        """Create the endpoint's one listener forwarding by weight, and return its ARN.

        :param load_balancer_arn: the load balancer.
        :param weights: target group ARN -> weight.
        :param tags: ownership tags.
        :param protocol: ``HTTP`` or ``HTTPS``.
        :param port: the listener's port (80 for HTTP, 443 for HTTPS).
        :param certificate_arn: the ACM certificate of an HTTPS listener.
        """
        tls = (
            {"Certificates": [{"CertificateArn": certificate_arn}], "SslPolicy": TLS_POLICY} if certificate_arn else {}
        )
        with elb_errors(f"creating the {protocol} listener on port {port}"):
            return str(
                self.elbv2().create_listener(
                    LoadBalancerArn=load_balancer_arn,
                    Protocol=protocol,
                    Port=port,
                    DefaultActions=forward_action(weights),
                    Tags=as_tag_list(tags),
                    **tls,
                )["Listeners"][0]["ListenerArn"]
            )

    def set_weights(self, listener_arn: str, weights: Mapping[str, int]) -> None:
        """Forward the listener's requests to target groups by weight.

        :param listener_arn: the listener.
        :param weights: target group ARN -> weight 0-100.
        """
        with elb_errors("changing the listener's weights"):
            self.elbv2().modify_listener(ListenerArn=listener_arn, DefaultActions=forward_action(weights))

    def weights(self, listener_arn: str) -> dict[str, int]:
        """Return the listener's target group weights.

        :param listener_arn: the listener.
        """
        with elb_errors("describing the listener"):
            listener = self.elbv2().describe_listeners(ListenerArns=[listener_arn])["Listeners"][0]
        weights: dict[str, int] = {}
        for action in listener.get("DefaultActions", []):
            for group in (action.get("ForwardConfig") or {}).get("TargetGroups", []):
                weights[str(group["TargetGroupArn"])] = int(group.get("Weight", 1))
            if action.get("TargetGroupArn") and not action.get("ForwardConfig"):
                weights[str(action["TargetGroupArn"])] = 1
        return weights

    def register(self, target_group_arn: str, instance_ids: Sequence[str]) -> None:
        """Register instances on the serving port.

        :param target_group_arn: the target group.
        :param instance_ids: the instances (running).
        """
        with elb_errors("registering the instances"):
            self.elbv2().register_targets(
                TargetGroupArn=target_group_arn, Targets=[{"Id": i, "Port": SERVING_PORT} for i in instance_ids]
            )

    def deregister(self, target_group_arn: str, instance_ids: Sequence[str]) -> None:
        """Deregister instances (the load balancer drains their requests for the deregistration delay).

        :param target_group_arn: the target group.
        :param instance_ids: the instances.
        """
        if instance_ids:
            with elb_errors("deregistering the instances"):
                self.elbv2().deregister_targets(
                    TargetGroupArn=target_group_arn, Targets=[{"Id": i, "Port": SERVING_PORT} for i in instance_ids]
                )

    def target_health(self, target_group_arn: str) -> dict[str, tuple[str, str]]:
        """Return each registered target's health: instance id -> (state, reason).

        :param target_group_arn: the target group.
        """
        with elb_errors("describing target health"):
            found = self.elbv2().describe_target_health(TargetGroupArn=target_group_arn)["TargetHealthDescriptions"]
        return {
            str(t["Target"]["Id"]): (str(t["TargetHealth"]["State"]), str(t["TargetHealth"].get("Reason", "")))
            for t in found
        }

    def tagged(self, kind: str, tags: Mapping[str, str]) -> list[str]:
        """Return the ARNs of load balancers or target groups carrying every tag given.

        :param kind: ``load-balancer`` or ``target-group``.
        :param tags: tag key -> value.
        """
        client = self.elbv2()
        operation, key, field = {
            "load-balancer": ("describe_load_balancers", "LoadBalancers", "LoadBalancerArn"),
            "target-group": ("describe_target_groups", "TargetGroups", "TargetGroupArn"),
        }[kind]
        with elb_errors(f"listing {kind}s"):
            arns = [str(item[field]) for page in client.get_paginator(operation).paginate() for item in page[key]]
            matching = []
            for start in range(0, len(arns), TAG_BATCH):
                for described in client.describe_tags(ResourceArns=arns[start : start + TAG_BATCH])["TagDescriptions"]:
                    have = {t["Key"]: t["Value"] for t in described.get("Tags", [])}
                    if all(have.get(k) == v for k, v in tags.items()):
                        matching.append(str(described["ResourceArn"]))
        return matching

    def delete_load_balancer(self, load_balancer_arn: str) -> None:
        """Delete the load balancer (and its listeners) and wait until it is gone; a missing one is not an error.

        :param load_balancer_arn: the load balancer.
        """
        client = self.elbv2()
        with elb_errors("deleting the load balancer"):
            try:
                listeners = client.describe_listeners(LoadBalancerArn=load_balancer_arn)["Listeners"]
            except client.exceptions.LoadBalancerNotFoundException:
                return
            for listener in listeners:
                client.delete_listener(ListenerArn=listener["ListenerArn"])
            client.delete_load_balancer(LoadBalancerArn=load_balancer_arn)
            client.get_waiter("load_balancers_deleted").wait(
                LoadBalancerArns=[load_balancer_arn], WaiterConfig={"Delay": 5, "MaxAttempts": 60}
            )

    def delete_target_group(self, target_group_arn: str) -> None:
        """Delete a target group; a missing one is not an error.

        :param target_group_arn: the target group.
        """
        with elb_errors("deleting a target group"):
            client = self.elbv2()
            with suppress(client.exceptions.TargetGroupNotFoundException):
                client.delete_target_group(TargetGroupArn=target_group_arn)
