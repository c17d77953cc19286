"""One evaluation of an Auto Scaling group's target-tracking policy on ALBRequestCountPerTarget, as AWS runs it.

moto keeps a TargetTrackingScaling policy but never evaluates it: it creates no CloudWatch alarms and computes no
load balancer metric. This plays both parts for a test: the test publishes RequestCountPerTarget (the metric the load
balancer would compute) to moto's CloudWatch, and track_once reads the policy from moto, the metric for the
policy's ResourceLabel, and sets the group's desired capacity to ceil(instances x metric / target) within the
group's bounds, as target tracking does (without its cooldowns, warm-up and alarm periods).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

METRIC_PERIOD_S = 60


def label_dimensions(resource_label: str) -> list[dict[str, str]]:
    """Return the CloudWatch dimensions of ALBRequestCountPerTarget's ResourceLabel.

    :param resource_label: ``app/<lb>/<id>/targetgroup/<tg>/<id>``.
    """
    parts = resource_label.split("/")
    if len(parts) != 6 or parts[0] != "app" or parts[3] != "targetgroup":
        raise ValueError(f"{resource_label!r} is not app/<lb>/<id>/targetgroup/<tg>/<id>")
    return [
        {"Name": "TargetGroup", "Value": "/".join(parts[3:])},
        {"Name": "LoadBalancer", "Value": "/".join(parts[:3])},
    ]


def publish_requests_per_target(
    cloudwatch: Any, resource_label: str, requests_per_minute: float, minutes_ago: int
) -> None:
    """Publish one minute of RequestCountPerTarget for a target group, as the load balancer would.

    :param cloudwatch: a boto3 CloudWatch client of the moto server.
    :param resource_label: the policy's ResourceLabel (load balancer and target group).
    :param requests_per_minute: requests each target answered in the minute.
    :param minutes_ago: which minute (0 the current one, up to 4): each call of a test gets its own.
    """
    minute = dt.datetime.now(dt.UTC).replace(second=30, microsecond=0) - dt.timedelta(minutes=minutes_ago)
    cloudwatch.put_metric_data(
        Namespace="AWS/ApplicationELB",
        MetricData=[
            {
                "MetricName": "RequestCountPerTarget",
                "Dimensions": label_dimensions(resource_label),
                "Timestamp": minute,
                "Value": requests_per_minute,
                "Unit": "Count",
            }
        ],
    )


def track_once(autoscaling: Any, cloudwatch: Any, group_name: str) -> int:
    """Evaluate the group's target-tracking policy once and set its desired capacity; return it.

    :param autoscaling: a boto3 Auto Scaling client of the moto server.
    :param cloudwatch: a boto3 CloudWatch client of the moto server.
    :param group_name: the group.
    """
    (policy,) = autoscaling.describe_policies(AutoScalingGroupName=group_name, PolicyTypes=["TargetTrackingScaling"])[
        "ScalingPolicies"
    ]
    config = policy["TargetTrackingConfiguration"]
    metric = config["PredefinedMetricSpecification"]
    if metric["PredefinedMetricType"] != "ALBRequestCountPerTarget":
        raise ValueError(f"only ALBRequestCountPerTarget is played here, not {metric['PredefinedMetricType']}")
    now = dt.datetime.now(dt.UTC)
    points = cloudwatch.get_metric_statistics(
        Namespace="AWS/ApplicationELB",
        MetricName="RequestCountPerTarget",
        Dimensions=label_dimensions(metric["ResourceLabel"]),
        StartTime=now - dt.timedelta(seconds=5 * METRIC_PERIOD_S),
        EndTime=now + dt.timedelta(seconds=METRIC_PERIOD_S),
        Period=METRIC_PERIOD_S,
        Statistics=["Sum"],
    )["Datapoints"]
    (group,) = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group_name])["AutoScalingGroups"]
    current = int(group["DesiredCapacity"])
    if not points:
        return current
    latest = max(points, key=lambda p: p["Timestamp"])["Sum"]
    wanted = math.ceil(current * float(latest) / float(config["TargetValue"]))
    desired = min(max(wanted, int(group["MinSize"])), int(group["MaxSize"]))
    autoscaling.set_desired_capacity(AutoScalingGroupName=group_name, DesiredCapacity=desired, HonorCooldown=False)
    return desired
