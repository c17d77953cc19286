"""How an EC2 endpoint revision's Auto Scaling group is sized and scaled: bounds, the request-count target, and its
launch template made from the instances' run_instances request.

Each revision's instances belong to one Auto Scaling group that uses the load balancer's health check, so an
instance that fails it, or ends, is replaced. Between min_instances and max_instances the group follows a
target-tracking policy on the load balancer's requests per target per minute (ALBRequestCountPerTarget), as
SageMaker's endpoints follow SageMakerVariantInvocationsPerInstance.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ml_lifecycle.core import checks
from ml_lifecycle.core.errors import SpecError

MAX_INSTANCES = 100
# A capturing revision's group holds an instance it scales in until its agent has uploaded the capture it holds (the
# agent completes this lifecycle action; Auto Scaling continues by itself after CAPTURE_DRAIN_S without it).
CAPTURE_DRAIN_HOOK = "mlc-drain-capture"
CAPTURE_DRAIN_S = 300
# What the instance metadata says (autoscaling/target-lifecycle-state) of an instance Auto Scaling is ending.
TERMINATING_STATE = "Terminated"
MAX_TARGET_PER_MINUTE = 1_000_000
# run_instances keywords a launch template holds under the same name; the rest are the call's own (counts, token,
# subnet: the group places instances in its subnets).
TEMPLATE_KEYS = (
    "ImageId",
    "InstanceType",
    "MetadataOptions",
    "InstanceInitiatedShutdownBehavior",
    "BlockDeviceMappings",
    "TagSpecifications",
    "SecurityGroupIds",
    "IamInstanceProfile",
    "Placement",
)


@dataclass(frozen=True)
class ScalingBounds:
    """How many instances a revision runs, and what moves the number.

    :param min_instances: the fewest instances (the group never goes below).
    :param desired_instances: how many it starts with (instance_count).
    :param max_instances: the most instances.
    :param target_invocations_per_instance: requests per instance per minute the group scales to keep (None: no
        scaling policy; required when max_instances > min_instances).
    """

    min_instances: int
    desired_instances: int
    max_instances: int
    target_invocations_per_instance: int | None = None

    @property
    def scales(self) -> bool:
        """Whether the group can change size by itself (a target-tracking policy is attached)."""
        return self.max_instances > self.min_instances

    @classmethod
    def build(
        cls, instance_count: int, min_instances: Any = None, max_instances: Any = None, target: Any = None
    ) -> ScalingBounds:
        """Validate the bounds: 1 <= min <= instance_count <= max <= 100, and a target when they differ.

        :param instance_count: the instances a revision starts with.
        :param min_instances: the fewest (default instance_count).
        :param max_instances: the most (default instance_count).
        :param target: requests per instance per minute to keep (SageMakerVariantInvocationsPerInstance's meaning).
        """
        desired = checks.check_instance_count(instance_count)
        low = desired if min_instances is None else checks.check_positive_int("min_instances", min_instances, 1)
        high = desired if max_instances is None else checks.check_positive_int("max_instances", max_instances, 1)
        if not low <= desired <= high <= MAX_INSTANCES:
            raise SpecError(
                "min_instances",
                f"min_instances={low}, instance_count={desired}, max_instances={high} are not in order",
                f"Give 1 <= min_instances <= instance_count <= max_instances <= {MAX_INSTANCES}",
            )
        if target is not None:
            target = checks.check_positive_int("target_invocations_per_instance", target, 1, MAX_TARGET_PER_MINUTE)
        if high > low and target is None:
            raise SpecError(
                "target_invocations_per_instance",
                f"is missing, and the endpoint may scale between {low} and {high} instances",
                "Give the requests per instance per minute to scale at, e.g. target_invocations_per_instance=600",
            )
        return cls(low, desired, high, target)


def resource_label(load_balancer_arn: str, target_group_arn: str) -> str:
    """Return ALBRequestCountPerTarget's ResourceLabel: ``app/<lb>/<id>/targetgroup/<tg>/<id>``.

    :param load_balancer_arn: ``arn:aws:elasticloadbalancing:<region>:<account>:loadbalancer/app/<lb>/<id>``.
    :param target_group_arn: ``arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<tg>/<id>``.
    """
    balancer = load_balancer_arn.split(":", 5)[-1].removeprefix("loadbalancer/")
    group = target_group_arn.split(":", 5)[-1]
    return f"{balancer}/{group}"


def target_tracking(bounds: ScalingBounds, label: str) -> dict[str, Any]:
    """Return the TargetTrackingConfiguration that keeps requests per instance at the target.

    :param bounds: the revision's bounds (with a target).
    :param label: resource_label of the load balancer and the revision's target group.
    """
    if bounds.target_invocations_per_instance is None:
        raise SpecError("target_invocations_per_instance", "is missing", "Give requests per instance per minute")
    return {
        "PredefinedMetricSpecification": {"PredefinedMetricType": "ALBRequestCountPerTarget", "ResourceLabel": label},
        "TargetValue": float(bounds.target_invocations_per_instance),
        "DisableScaleIn": False,
    }


def launch_template_data(request: Mapping[str, Any], base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return LaunchTemplateData for a revision's group from the run_instances request its instances would get.

    What the request sets wins over the user's own launch template (base), as it does at run_instances.

    :param request: run_instances keywords (core.ec2.launch.run_instances_request); UserData as text.
    :param base: the LaunchTemplateData of the user's launch template, when ec2_settings names one.
    """
    if request.get("InstanceMarketOptions"):
        raise SpecError("use_spot", "endpoint instances cannot be spot", "Leave use_spot out for endpoints")
    data = {**(base or {}), **{key: request[key] for key in TEMPLATE_KEYS if key in request}}
    data["UserData"] = base64.b64encode(str(request["UserData"]).encode()).decode()
    return data
