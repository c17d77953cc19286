"""What EC2 endpoints are doing, read from the things themselves: their instances, load balancer and its requests."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

from ml_lifecycle.compute.ec2.endpoint_health import arn_suffix
from ml_lifecycle.compute.ec2.endpoint_state import EndpointState, Revision, StateStore
from ml_lifecycle.compute.ec2.endpoint_teardown import STATE_TAG
from ml_lifecycle.compute.ec2.fleet import Ec2Fleet, ec2_errors
from ml_lifecycle.compute.ec2.load_balancer import elb_errors
from ml_lifecycle.core import labels
from ml_lifecycle.core.endpoint_cost import FleetInterval
from ml_lifecycle.core.endpoint_idleness import SECONDS_PER_HOUR, EndpointActivity
from ml_lifecycle.core.uris import parse_uri
from ml_lifecycle.stores import StoreFor

ClientFactory = Any
# How far back the last request is looked for when the endpoint has no idle limit (the page's "last request").
DEFAULT_LOOKBACK_H = 24.0
MAX_DATAPOINTS = 1440  # GetMetricStatistics answers at most this many per call
MIN_PERIOD_S = 60


def fleet_intervals(running: list[Mapping[str, Any]], retired: list[dict[str, Any]]) -> tuple[FleetInterval, ...]:
    """Return the stretches an endpoint ran instances: each running instance since its launch, each ended revision.

    Instances that Auto Scaling ended within a revision still running (scale-in, replacements) are not counted.

    :param running: its running instances, as EC2 describes them (LaunchTime, InstanceType).
    :param retired: the revisions its state notes as ended (EndpointState.retire).
    """
    now_running = [
        FleetInterval(instance["LaunchTime"].timestamp(), None, 1, str(instance["InstanceType"]))
        for instance in running
    ]
    ended = [
        FleetInterval(
            dt.datetime.fromisoformat(entry["started_at"]).timestamp(),
            dt.datetime.fromisoformat(entry["ended_at"]).timestamp(),
            int(entry["instance_count"]),
            str(entry["instance_type"]),
        )
        for entry in retired
        if entry.get("started_at") and entry.get("ended_at")
    ]
    return (*ended, *now_running)


def _tags(instance: Mapping[str, Any]) -> dict[str, str]:
    """Return an instance's tags as a mapping.

    :param instance: the instance, as EC2 describes it.
    """
    return {t["Key"]: t["Value"] for t in instance.get("Tags", [])}


class Ec2EndpointActivity:
    """Reads each EC2 endpoint's instances, load balancer age and RequestCount (CloudWatch) for the reaper and page.

    :param fleet: finds the endpoints' security groups and instances.
    :param elbv2: builds the ELBv2 client (the load balancer's creation time).
    :param cloudwatch: builds the CloudWatch client (the load balancer's RequestCount).
    :param store_for: returns the store of an endpoint's state.
    """

    def __init__(self, fleet: Ec2Fleet, elbv2: ClientFactory, cloudwatch: ClientFactory, store_for: StoreFor) -> None:
        self.fleet = fleet
        self.elbv2 = elbv2
        self.cloudwatch = cloudwatch
        self.store_for = store_for

    def all(self, match_tags: Mapping[str, str]) -> list[EndpointActivity]:
        """Return the activity of every endpoint whose security groups carry our tags and these.

        :param match_tags: only endpoints carrying these tags too.
        """
        wanted = {labels.MANAGED: "true", labels.KIND: "endpoint", **match_tags}
        filters = [{"Name": f"tag:{key}", "Values": [value]} for key, value in wanted.items()]
        prefixes: dict[str, str] = {}
        with ec2_errors("listing the endpoints' security groups"):
            for group in self.fleet.ec2().describe_security_groups(Filters=filters)["SecurityGroups"]:
                tags = {t["Key"]: t["Value"] for t in group.get("Tags", [])}
                if tags.get(labels.ENDPOINT) and tags.get(STATE_TAG):
                    prefixes[tags[labels.ENDPOINT]] = tags[STATE_TAG]
        found = []
        for _, prefix in sorted(prefixes.items()):
            state = StateStore(self.store_for, parse_uri(prefix, "state_uri")).read()
            if state is not None and state.live is not None and state.load_balancer_arn:
                found.append(self.of(state, state.live))
        return found

    def of(self, state: EndpointState, live: Revision) -> EndpointActivity:
        """Return one endpoint's activity: its live revision's running instances and its load balancer's requests.

        :param state: the endpoint's state.
        :param live: its live revision.
        """
        serving = self.fleet.find({labels.ENDPOINT: state.endpoint_name}, ("running",))  # a rollout's both revisions
        running = [i for i in serving if _tags(i).get(labels.JOB) == live.job_name]
        with elb_errors("describing the endpoint's load balancer"):
            balancer = self.elbv2().describe_load_balancers(LoadBalancerArns=[state.load_balancer_arn])
        created = balancer["LoadBalancers"][0]["CreatedTime"].timestamp()
        limit_h = live.idle_delete_after_h  # the serving revision's: an update may have opted out or changed it
        return EndpointActivity(
            endpoint_name=state.endpoint_name,
            instance_type=str(running[0]["InstanceType"]) if running else "",
            instance_count=len(running),
            created_epoch_s=created,
            serving_since_epoch_s=dt.datetime.fromisoformat(live.created_at).timestamp()
            if live.created_at
            else created,
            # CloudWatch counts the load balancer's requests from its creation on.
            counted_since_epoch_s=created,
            last_request_epoch_s=self.last_request(state.load_balancer_arn, limit_h or DEFAULT_LOOKBACK_H),
            idle_delete_after_h=limit_h,
            fleet=fleet_intervals(serving, state.retired),
        )

    def last_request(self, load_balancer_arn: str, lookback_h: float) -> float | None:
        """Return the end of the last minute-or-longer period with requests (RequestCount > 0), or None.

        :param load_balancer_arn: the load balancer.
        :param lookback_h: how many hours back to look.
        """
        now = dt.datetime.now(dt.UTC)
        window_s = lookback_h * SECONDS_PER_HOUR
        period_s = max(MIN_PERIOD_S, math.ceil(window_s / MAX_DATAPOINTS / MIN_PERIOD_S) * MIN_PERIOD_S)
        answer = self.cloudwatch().get_metric_statistics(
            Namespace="AWS/ApplicationELB",
            MetricName="RequestCount",
            Dimensions=[{"Name": "LoadBalancer", "Value": arn_suffix(load_balancer_arn)}],
            StartTime=now - dt.timedelta(seconds=window_s + period_s),
            EndTime=now,
            Period=period_s,
            Statistics=["Sum"],
        )
        busy = [p["Timestamp"] for p in answer.get("Datapoints", []) if float(p["Sum"]) > 0]
        if not busy:
            return None
        # A datapoint is stamped with its period's start; its requests came at most period_s later (not after now).
        return min(max(busy).timestamp() + period_s, now.timestamp())
