"""An endpoint host that Auto Scaling scales in: seen in the instance metadata, let go once its capture is uploaded."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ml_lifecycle.agent.instance.imds import MetadataClient, MetadataError
from ml_lifecycle.core.ec2.endpoint_scaling import CAPTURE_DRAIN_HOOK, CAPTURE_DRAIN_S, TERMINATING_STATE

log = logging.getLogger(__name__)


def scaled_in(imds: MetadataClient) -> bool:
    """Say whether Auto Scaling is ending this instance (a scale-in, or a replacement of an unhealthy one); a metadata
    service that does not answer now (a timeout, throttling) says no, and the next poll asks again.

    :param imds: the metadata client.
    """
    try:
        return imds.lifecycle_state() == TERMINATING_STATE
    except MetadataError as err:
        log.warning("The instance metadata did not say whether Auto Scaling ends this instance: %s", err)
        return False


def let_go(autoscaling: Callable[[], Any], instance_id: str, sink: Callable[[str], None]) -> bool:
    """Complete the capture drain hook's lifecycle action, so Auto Scaling ends the instance now; return whether it did.

    A refusal is told, not raised: Auto Scaling continues by itself once the hook's CAPTURE_DRAIN_S have passed.

    :param autoscaling: builds an Auto Scaling client (the instance's role needs DescribeAutoScalingInstances and
        CompleteLifecycleAction).
    :param instance_id: this instance.
    :param sink: the agent's progress lines.
    """
    try:
        client = autoscaling()
        found = client.describe_auto_scaling_instances(InstanceIds=[instance_id])["AutoScalingInstances"]
        if not found:
            sink(f"{instance_id} is in no Auto Scaling group: no lifecycle action to complete")
            return False
        client.complete_lifecycle_action(
            LifecycleHookName=CAPTURE_DRAIN_HOOK,
            AutoScalingGroupName=found[0]["AutoScalingGroupName"],
            InstanceId=instance_id,
            LifecycleActionResult="CONTINUE",
        )
    except Exception as err:
        sink(
            f"Could not complete the lifecycle action {CAPTURE_DRAIN_HOOK} of {instance_id} ({err}); Auto Scaling "
            f"ends the instance after {CAPTURE_DRAIN_S} s by itself. Check that the instance's role may call "
            "autoscaling:DescribeAutoScalingInstances and autoscaling:CompleteLifecycleAction"
        )
        return False
    sink(f"Capture uploaded: Auto Scaling may end {instance_id} now")
    return True
