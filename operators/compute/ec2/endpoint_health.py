"""Is a revision healthy? Its targets' health in the load balancer, its hosts' reports, and its 5XX error rate."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ml_lifecycle.compute.ec2.fleet import ClientFactory
from ml_lifecycle.compute.ec2.load_balancer import LoadBalancer
from ml_lifecycle.compute.records import StoreFor
from ml_lifecycle.core.ec2.endpoint_hosts import host_report_uri
from ml_lifecycle.core.status import EndpointStatus
from ml_lifecycle.core.uris import ArtifactUri
from ml_lifecycle.errors import ArtifactNotFound, EndpointNotReady

METRIC_PERIOD_S = 60
# A target in these states will not turn healthy by waiting: its instance stopped, ended or left the group.
HOPELESS = {
    ("unused", "Target.InvalidState"),
    ("draining", "Target.DeregistrationInProgress"),
    ("unused", "Target.NotRegistered"),
}


class RevisionUnhealthy(EndpointNotReady):
    """A revision's targets failed their health checks, a host failed, or its error rate passed the threshold."""


@dataclass(frozen=True)
class RevisionTargets:
    """What to watch of one revision.

    :param revision: the revision id (for messages).
    :param target_group_arn: its target group.
    :param instance_ids: its instances.
    :param staging: its staging prefix (host reports live below it).
    :param group_name: its Auto Scaling group, whose instances now are the ones watched ("" for instance_ids).
    """

    revision: str
    target_group_arn: str
    instance_ids: Sequence[str]
    staging: ArtifactUri
    group_name: str = ""


class HealthWatch:
    """Checks a revision through the load balancer, the hosts' reports and CloudWatch.

    :param balancer: the ELBv2 calls.
    :param cloudwatch: builds the CloudWatch client.
    :param store_for: returns the store for a URI.
    :param poll_interval_s: seconds between checks.
    :param members: returns an Auto Scaling group's instances and desired capacity (RevisionGroups.members).
    """

    def __init__(
        self,
        balancer: LoadBalancer,
        cloudwatch: ClientFactory,
        store_for: StoreFor,
        poll_interval_s: float,
        members: Callable[[str], tuple[list[str], int]],
    ) -> None:
        self.balancer = balancer
        self.cloudwatch = cloudwatch
        self.store_for = store_for
        self.poll_interval_s = poll_interval_s
        self.members = members

    def instances(self, targets: RevisionTargets) -> tuple[list[str], int]:
        """Return a revision's instances now and how many it should have (its group's, replacements included).

        :param targets: the revision.
        """
        if targets.group_name:
            return self.members(targets.group_name)
        return list(targets.instance_ids), len(targets.instance_ids)

    def failed_host(self, targets: RevisionTargets, instance_ids: Sequence[str]) -> str | None:
        """Return the first host failure a revision's instances reported, or None.

        :param targets: the revision.
        :param instance_ids: its instances now.
        """
        for instance_id in instance_ids:
            uri = host_report_uri(targets.staging, instance_id)
            try:
                report = json.loads(self.store_for(uri).read_bytes(uri))
            except ArtifactNotFound:
                continue
            if report.get("status") == EndpointStatus.FAILED:
                return f"instance {instance_id}: {report.get('failure_reason') or 'no reason was reported'}"
        return None

    def unhealthy(self, targets: RevisionTargets, *, starting: bool) -> tuple[str | None, bool]:
        """Return (why the revision is not healthy or None, whether waiting cannot help).

        :param targets: the revision.
        :param starting: the instances are still booting (initial and unhealthy targets may still turn healthy).
        """
        instance_ids, expected = self.instances(targets)
        failure = self.failed_host(targets, instance_ids)
        if failure:
            return f"revision {targets.revision}: {failure}", True
        if len(instance_ids) < expected:
            return f"revision {targets.revision}: {len(instance_ids)} of {expected} instances are running", not starting
        health = self.balancer.target_health(targets.target_group_arn)
        for instance_id in instance_ids:
            state, reason = health.get(instance_id, ("unused", "Target.NotRegistered"))
            if state == "healthy":
                continue
            why = f"revision {targets.revision}: target {instance_id} is {state} ({reason or 'no reason given'})"
            # A group registers a starting instance with the target group by itself, a moment after launching it.
            joining = starting and bool(targets.group_name) and reason == "Target.NotRegistered"
            return why, ((state, reason) in HOPELESS and not joining) or not starting
        return None, False

    def wait_healthy(self, targets: RevisionTargets, timeout_s: float, sink: Callable[[str], None]) -> float:
        """Wait until every target of a revision is healthy and return the seconds it took.

        :param targets: the revision.
        :param timeout_s: how long the instances may take to boot and answer GET /ping.
        :param sink: the task log.
        """
        started_s = time.monotonic()
        last = ""
        while True:
            why, hopeless = self.unhealthy(targets, starting=True)
            if why is None:
                return time.monotonic() - started_s
            if hopeless:
                raise RevisionUnhealthy(f"{why}. See the CloudWatch log group /aws/ml-lifecycle/Endpoints")
            if time.monotonic() - started_s > timeout_s:
                raise RevisionUnhealthy(
                    f"{why} after {timeout_s:.0f} s. Check that the image answers GET /ping on 8080 with 200 "
                    "(the CloudWatch log group /aws/ml-lifecycle/Endpoints has each instance's log), or raise "
                    "startup_timeout_s"
                )
            if why != last:
                sink(f"Waiting: {why}")
                last = why
            time.sleep(self.poll_interval_s)

    def error_rate(self, targets: RevisionTargets, load_balancer_arn: str, since: dt.datetime) -> tuple[float, float]:
        """Return (5XX responses, requests) of a revision's target group since a time, from CloudWatch.

        :param targets: the revision.
        :param load_balancer_arn: the load balancer.
        :param since: the start of the window (UTC).
        """
        dimensions = [
            {"Name": "TargetGroup", "Value": arn_suffix(targets.target_group_arn)},
            {"Name": "LoadBalancer", "Value": arn_suffix(load_balancer_arn)},
        ]
        end = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=METRIC_PERIOD_S)
        start = min(since, end - dt.timedelta(seconds=METRIC_PERIOD_S)) - dt.timedelta(seconds=METRIC_PERIOD_S)
        sums = []
        for metric in ("HTTPCode_Target_5XX_Count", "RequestCount"):
            answer = self.cloudwatch().get_metric_statistics(
                Namespace="AWS/ApplicationELB",
                MetricName=metric,
                Dimensions=dimensions,
                StartTime=start,
                EndTime=end,
                Period=METRIC_PERIOD_S,
                Statistics=["Sum"],
            )
            sums.append(sum(float(point["Sum"]) for point in answer.get("Datapoints", [])))
        return sums[0], sums[1]

    def watch(
        self,
        targets: RevisionTargets,
        load_balancer_arn: str,
        duration_s: float,
        max_error_rate: float,
        since: dt.datetime,
        sink: Callable[[str], None],
    ) -> None:
        """Check a serving revision until duration_s has passed (at least once); raise RevisionUnhealthy on a failure.

        :param targets: the revision.
        :param load_balancer_arn: the load balancer.
        :param duration_s: seconds to watch.
        :param max_error_rate: the largest share of 5XX responses allowed.
        :param since: when the revision started taking requests (the error rate's window).
        :param sink: the task log.
        """
        end_s = time.monotonic() + duration_s
        while True:
            why, progress = self.serving_problem(targets, load_balancer_arn, max_error_rate, since)
            if why:
                raise RevisionUnhealthy(why)
            if time.monotonic() >= end_s:
                return
            sink(progress)
            time.sleep(min(self.poll_interval_s, max(0.0, end_s - time.monotonic())))

    def serving_problem(
        self, targets: RevisionTargets, load_balancer_arn: str, max_error_rate: float, since: dt.datetime
    ) -> tuple[str | None, str]:
        """Check a serving revision once: return (why it fails, or None; how it does so far).

        :param targets: the revision.
        :param load_balancer_arn: the load balancer.
        :param max_error_rate: the largest share of 5XX responses allowed.
        :param since: when the revision started taking requests (the error rate's window).
        """
        why, _ = self.unhealthy(targets, starting=False)
        if why:
            return why, ""
        errors, requests = self.error_rate(targets, load_balancer_arn, since)
        if requests and errors / requests > max_error_rate:
            return (
                f"revision {targets.revision}: {errors:.0f} of {requests:.0f} requests answered 5XX "
                f"({errors / requests:.1%}), above max_error_rate {max_error_rate:.1%}"
            ), ""
        return None, f"Revision {targets.revision}: healthy, {errors:.0f} 5XX of {requests:.0f} requests so far"

    def wait_drained(self, target_group_arn: str, timeout_s: float) -> None:
        """Wait until a deregistered target group has no draining targets left (requests in flight finished).

        :param target_group_arn: the target group.
        :param timeout_s: the most seconds to wait (the deregistration delay and a margin).
        """
        end_s = time.monotonic() + timeout_s
        while time.monotonic() < end_s:
            states = [state for state, _ in self.balancer.target_health(target_group_arn).values()]
            if "draining" not in states:
                return
            time.sleep(self.poll_interval_s)


def arn_suffix(arn: str) -> str:
    """Return the part of a load balancer or target group ARN that CloudWatch dimensions use.

    :param arn: ``arn:aws:elasticloadbalancing:...:loadbalancer/app/x/123`` or ``...:targetgroup/x/123``.
    """
    resource = arn.split(":", 5)[-1]
    return resource.removeprefix("loadbalancer/")
