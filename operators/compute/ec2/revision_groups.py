"""The Auto Scaling group of one endpoint revision: a launch template, a group that uses the load balancer's health
check and registers its instances with the revision's target group, and a target-tracking policy."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from ml_lifecycle.compute.ec2.aws_refusals import refusals_of
from ml_lifecycle.compute.ec2.fleet import ClientFactory, ec2_errors
from ml_lifecycle.core.ec2.endpoint_scaling import (
    CAPTURE_DRAIN_HOOK,
    CAPTURE_DRAIN_S,
    ScalingBounds,
    target_tracking,
)
from ml_lifecycle.core.ec2.launch import as_tag_list
from ml_lifecycle.errors import ComputeError

POLICY_NAME = "requests-per-instance"
SERVING_STATES = ("Pending", "Pending:Wait", "Pending:Proceed", "InService")
DELETE_WAIT_S = 900.0
POLL_S = 2.0
RETRYABLE = frozenset({"Throttling", "ResourceContention", "ScalingActivityInProgress"})


def scaling_errors(what: str) -> AbstractContextManager[None]:
    """Translate a botocore ClientError raised inside the block into a ComputeError naming the action.

    :param what: the action, for the message (``creating the Auto Scaling group``).
    """
    return refusals_of("Auto Scaling", what, RETRYABLE)


class RevisionGroups:
    """Creates, watches, protects and deletes revisions' Auto Scaling groups.

    :param autoscaling: builds the Auto Scaling client.
    :param ec2: builds the EC2 client (launch templates).
    """

    def __init__(self, autoscaling: ClientFactory, ec2: ClientFactory) -> None:
        self.autoscaling = autoscaling
        self.ec2 = ec2

    def create(
        self,
        name: str,
        template_data: Mapping[str, Any],
        subnet_ids: Sequence[str],
        target_group_arn: str,
        bounds: ScalingBounds,
        grace_s: int,
        tags: Mapping[str, str],
        drains_capture: bool = False,
    ) -> None:
        """Create the revision's launch template and group (both named name); its instances start at once.

        :param name: the group's and template's name.
        :param template_data: LaunchTemplateData (core.ec2.endpoint_scaling.launch_template_data).
        :param subnet_ids: the instances' subnets.
        :param target_group_arn: the revision's target group (the group registers its instances there).
        :param bounds: min, desired and max instances.
        :param grace_s: seconds a new instance has to pass the load balancer's health check before it is replaced.
        :param tags: the group's ownership tags (its instances get theirs from the launch template).
        :param drains_capture: hold each instance it scales in until its agent uploaded its data capture (a lifecycle
            hook, CAPTURE_DRAIN_HOOK); set for a revision that captures.
        """
        with ec2_errors(f"creating the launch template {name}"):
            self.ec2().create_launch_template(
                LaunchTemplateName=name,
                LaunchTemplateData=dict(template_data),
                TagSpecifications=[{"ResourceType": "launch-template", "Tags": as_tag_list(tags)}],
            )
        with scaling_errors(f"creating the Auto Scaling group {name}"):
            self.autoscaling().create_auto_scaling_group(
                AutoScalingGroupName=name,
                LaunchTemplate={"LaunchTemplateName": name, "Version": "$Latest"},
                MinSize=bounds.min_instances,
                MaxSize=bounds.max_instances,
                DesiredCapacity=bounds.desired_instances,
                VPCZoneIdentifier=",".join(subnet_ids),
                TargetGroupARNs=[target_group_arn],
                HealthCheckType="ELB",
                HealthCheckGracePeriod=grace_s,
                Tags=[
                    {
                        "ResourceId": name,
                        "ResourceType": "auto-scaling-group",
                        "Key": k,
                        "Value": v,
                        "PropagateAtLaunch": False,
                    }
                    for k, v in tags.items()
                ],
            )
        if drains_capture:
            with scaling_errors(f"adding the capture drain hook to {name}"):
                self.autoscaling().put_lifecycle_hook(
                    LifecycleHookName=CAPTURE_DRAIN_HOOK,
                    AutoScalingGroupName=name,
                    LifecycleTransition="autoscaling:EC2_INSTANCE_TERMINATING",
                    HeartbeatTimeout=CAPTURE_DRAIN_S,
                    DefaultResult="CONTINUE",
                )

    def scale_on_requests(self, name: str, bounds: ScalingBounds, label: str) -> None:
        """Attach the target-tracking policy on requests per instance (only when the bounds let the group scale).

        :param name: the group.
        :param bounds: the revision's bounds.
        :param label: the ALBRequestCountPerTarget resource label of the load balancer and target group.
        """
        if not bounds.scales:
            return
        with scaling_errors(f"attaching the scaling policy to {name}"):
            self.autoscaling().put_scaling_policy(
                AutoScalingGroupName=name,
                PolicyName=POLICY_NAME,
                PolicyType="TargetTrackingScaling",
                TargetTrackingConfiguration=target_tracking(bounds, label),
            )

    def described(self, name: str) -> dict[str, Any] | None:
        """Return the group as Auto Scaling describes it, or None when it does not exist.

        :param name: the group.
        """
        with scaling_errors(f"describing the Auto Scaling group {name}"):
            found = self.autoscaling().describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
        return found[0] if found else None

    def members(self, name: str) -> tuple[list[str], int]:
        """Return the group's instances that serve or are starting, and its desired capacity (([], 0) when it is gone).

        :param name: the group.
        """
        group = self.described(name)
        if group is None:
            return [], 0
        ids = sorted(str(i["InstanceId"]) for i in group["Instances"] if i["LifecycleState"] in SERVING_STATES)
        return ids, int(group["DesiredCapacity"])

    def protect(self, name: str, protected: bool) -> None:
        """Protect a group's instances, and those it launches, from scale-in (during a rollout), or lift it.

        :param name: the group.
        :param protected: True to protect, False to lift the protection.
        """
        ids, _ = self.members(name)
        with scaling_errors(f"{'setting' if protected else 'lifting'} scale-in protection of {name}"):
            client = self.autoscaling()
            client.update_auto_scaling_group(AutoScalingGroupName=name, NewInstancesProtectedFromScaleIn=protected)
            if ids:
                client.set_instance_protection(
                    AutoScalingGroupName=name, InstanceIds=ids, ProtectedFromScaleIn=protected
                )

    def detach(self, name: str, target_group_arn: str) -> None:
        """Take a group's instances out of a target group (the load balancer drains them) without ending them.

        :param name: the group.
        :param target_group_arn: the target group.
        """
        with scaling_errors(f"detaching {name} from its target group"):
            self.autoscaling().detach_load_balancer_target_groups(
                AutoScalingGroupName=name, TargetGroupARNs=[target_group_arn]
            )

    def delete(self, name: str, timeout_s: float = DELETE_WAIT_S) -> list[str]:
        """Delete a group with its instances and wait until it is gone, then its launch template; return the instances.

        A missing group or template is not an error.

        :param name: the group.
        :param timeout_s: how long the group may take to end its instances.
        """
        from botocore.exceptions import ClientError

        group = self.described(name)
        ids = [str(i["InstanceId"]) for i in group["Instances"]] if group else []
        if group is not None:
            with scaling_errors(f"deleting the Auto Scaling group {name}"):
                client = self.autoscaling()
                attached = list(group.get("TargetGroupARNs", []))
                if attached:  # out of the load balancer first: its instances are deregistered, never re-registered
                    client.detach_load_balancer_target_groups(AutoScalingGroupName=name, TargetGroupARNs=attached)
                client.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
            end_s = time.monotonic() + timeout_s
            while self.described(name) is not None:
                if time.monotonic() > end_s:
                    raise ComputeError(f"Auto Scaling group {name} was not deleted within {timeout_s:.0f} s")
                time.sleep(POLL_S)
        try:
            self.ec2().delete_launch_template(LaunchTemplateName=name)
        except ClientError as err:
            if "NotFound" not in err.response.get("Error", {}).get("Code", ""):
                raise ComputeError(f"EC2 refused deleting the launch template {name}: {err}") from err
        return ids

    def tagged(self, tags: Mapping[str, str]) -> list[str]:
        """Return the names of the groups carrying every tag given.

        :param tags: tag key -> value.
        """
        filters = [{"Name": f"tag:{key}", "Values": [value]} for key, value in tags.items()]
        with scaling_errors("listing Auto Scaling groups"):
            pages = self.autoscaling().get_paginator("describe_auto_scaling_groups").paginate(Filters=filters)
            return sorted(str(g["AutoScalingGroupName"]) for page in pages for g in page["AutoScalingGroups"])
