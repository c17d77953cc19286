"""Idle EC2 endpoints against moto: the reaper deletes one that served no request past its idle_delete_after_h and
keeps a busy one, judged by the load balancer's RequestCount in CloudWatch.

What moto does not do here: it computes no ALB metric at all (no request reaches its load balancers). The test
publishes RequestCount itself with PutMetricData, as the load balancer would, in the namespace and dimension AWS uses
(AWS/ApplicationELB, LoadBalancer=app/<name>/<id>); moto answers GetMetricStatistics from what was published.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from support import ec2_endpoints as ep
from support.helpers import task_context, wait_until

from ml_lifecycle.compute import backend_for
from ml_lifecycle.reaper import ReapOrphansOperator

LIMIT_H = 3 / 3600  # 3 seconds: the test waits for the idle endpoint to pass it, polling what CloudWatch says
WAIT_LIMIT_S = 60


def _publish_requests(cloud: SimpleNamespace, load_balancer_arn: str, count: float) -> None:
    """Publish the load balancer's RequestCount for the current minute, as AWS would (moto computes none).

    :param cloud: the clients.
    :param load_balancer_arn: the load balancer.
    :param count: the requests counted.
    """
    cloud.cloudwatch.put_metric_data(
        Namespace="AWS/ApplicationELB",
        MetricData=[
            {
                "MetricName": "RequestCount",
                "Dimensions": [{"Name": "LoadBalancer", "Value": load_balancer_arn.split(":loadbalancer/", 1)[1]}],
                "Timestamp": dt.datetime.now(dt.UTC),
                "Value": count,
                "Unit": "Count",
            }
        ],
    )


def test_an_idle_endpoint_is_deleted_by_the_reaper_and_a_busy_one_is_kept(cloud, ml_home):
    scope = f"idle-ec2-{uuid.uuid4().hex[:8]}"
    busy = SimpleNamespace(**{**vars(cloud), "name": f"ep-{uuid.uuid4().hex[:8]}"})
    try:
        for endpoint in (cloud, busy):
            ep.deploy_task(endpoint, instance_count=1, idle_delete_after_h=LIMIT_H).execute(task_context(dag_id=scope))
        idle_arn = ep.read_state(cloud)["load_balancer_arn"]
        busy_arn = ep.read_state(busy)["load_balancer_arn"]
        _publish_requests(cloud, idle_arn, 0)  # a minute without requests is not a request
        endpoints = backend_for("ec2", "aws_default").endpoints()

        def idle_long_enough() -> dict[str, Any] | None:
            _publish_requests(cloud, busy_arn, 25)
            found = {a.endpoint_name: a for a in endpoints.activity({"ml-lifecycle.dag-id": scope})}
            assert set(found) == {cloud.name, busy.name}
            idle_s = time.time() - (found[cloud.name].idle_since_epoch_s() or time.time())
            return found if idle_s > 2 * LIMIT_H * 3600 else None

        found = wait_until(idle_long_enough, f"{cloud.name} idle past its limit", WAIT_LIMIT_S, interval_s=0.5)
        assert found[cloud.name].last_request_epoch_s is None and found[busy.name].last_request_epoch_s is not None
        assert (found[busy.name].instance_count, found[busy.name].idle_delete_after_h) == (1, LIMIT_H)

        reaped = ReapOrphansOperator(
            task_id="reap", compute="ec2", match_labels={"ml-lifecycle.dag-id": scope}
        ).execute(task_context(dag_id="reaper"))["reaped"]

        assert [(r["job"], r["kind"]) for r in reaped] == [(cloud.name, "endpoint")]
        assert "served no request" in reaped[0]["reason"]
        ep.nothing_left(cloud)
        assert ep.read_state(busy)["status"] == "InService" and ep.instances(busy)
        notes = sorted((ml_home / "artifacts" / "reaper" / "endpoints").glob("*.json"))
        assert [n.name.startswith(f"{cloud.name}-") for n in notes] == [True]
    finally:
        ep.delete_endpoint(busy)
        ep.nothing_left(busy)


@pytest.mark.parametrize("updated_limit_h", [None, 1000.0], ids=["opted_out", "raised"])
def test_an_update_that_opts_out_or_raises_the_limit_keeps_the_endpoint_idle_past_its_first_limit(
    cloud, updated_limit_h
):
    scope = f"idle-update-{uuid.uuid4().hex[:8]}"
    try:
        ep.deploy_task(cloud, instance_count=1, idle_delete_after_h=LIMIT_H).execute(task_context(dag_id=scope))
        ep.deploy_task(cloud, "v2", instance_count=1, idle_delete_after_h=updated_limit_h).execute(
            task_context(dag_id=scope)
        )
        endpoints = backend_for("ec2", "aws_default").endpoints()

        def idle_past_the_first_limit() -> Any:
            (found,) = endpoints.activity({"ml-lifecycle.dag-id": scope})
            idle_s = time.time() - (found.idle_since_epoch_s() or time.time())
            return found if idle_s > 2 * LIMIT_H * 3600 else None

        found = wait_until(idle_past_the_first_limit, f"{cloud.name} idle past 3 s", WAIT_LIMIT_S, interval_s=0.5)
        assert found.idle_delete_after_h == updated_limit_h  # the serving revision's setting, not the creation's

        reaped = ReapOrphansOperator(
            task_id="reap", compute="ec2", match_labels={"ml-lifecycle.dag-id": scope}
        ).execute(task_context(dag_id="reaper"))["reaped"]

        assert reaped == []
        assert ep.read_state(cloud)["status"] == "InService" and ep.instances(cloud)
    finally:
        ep.delete_endpoint(cloud)
        ep.nothing_left(cloud)
