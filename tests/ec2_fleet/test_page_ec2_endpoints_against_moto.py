"""The ML lifecycle page lists EC2 endpoints (ML_LIFECYCLE_PAGE_COMPUTE=ec2) with their running cost, against moto.

moto computes no load balancer metric: an endpoint nobody called has no RequestCount datapoint, as on AWS.
"""

from __future__ import annotations

from support import ec2_endpoints as ep
from support.helpers import task_context

from ml_lifecycle import settings
from ml_lifecycle.compute import backend_for
from ml_lifecycle.plugin.html_page import render
from ml_lifecycle.plugin.overview import collect
from ml_lifecycle.stores import store_factory


def test_the_page_shows_an_ec2_endpoints_instances_cost_and_idle_limit(cloud, ml_home, monkeypatch):
    ep.deploy_task(cloud, idle_delete_after_h=48).execute(task_context())
    monkeypatch.setenv("ML_LIFECYCLE_PAGE_COMPUTE", "ec2")
    try:
        overview = collect(
            settings.default_artifact_root(),
            ml_home,
            settings.work_dir(),
            store_factory(None),
            computes=settings.page_computes(),
        )
        assert overview.problems == []
        (row,) = [e for e in overview.other_endpoints if e["endpoint_name"] == cloud.name]
        assert (row["compute"], row["running_instances"], row["instance_type"]) == ("ec2", 2, "m5.large")
        assert row["estimated_usd"] is not None and row["instance_hours"] >= 0
        assert (row["last_request_at"], row["idle_delete_after_h"]) == ("", 48.0)
        page = render(overview)
        assert cloud.name in page.split('class="other-endpoints"', 1)[1]
        assert "deleted after 48 h idle" in page
    finally:
        ep.delete_endpoint(cloud)
        ep.nothing_left(cloud)


def test_an_updated_endpoints_cost_counts_the_retired_revision_until_it_ended_and_the_new_one_since_it_started(cloud):
    ep.deploy_task(cloud).execute(task_context())  # 2 instances
    ep.deploy_task(cloud, "v2", instance_count=1).execute(task_context())
    try:
        state = ep.read_state(cloud)
        (found,) = [
            a for a in backend_for("ec2", "aws_default").endpoints().activity({}) if a.endpoint_name == cloud.name
        ]
        ended = [i for i in found.fleet if i.end_epoch_s is not None]
        running = [i for i in found.fleet if i.end_epoch_s is None]
        (retired,) = state["retired"]
        assert (retired["revision"], retired["instance_count"], retired["instance_type"].removeprefix("ml.")) == (
            state["history"][0]["revision"],
            2,
            "m5.large",
        )
        assert [(i.instance_count, i.instance_type.removeprefix("ml.")) for i in ended] == [(2, "m5.large")]
        assert [(i.instance_count, i.instance_type) for i in running] == [(1, "m5.large")]  # not 1 x the whole age
        assert ended[0].start_epoch_s <= ended[0].end_epoch_s and found.instance_count == 1
    finally:
        ep.delete_endpoint(cloud)
        ep.nothing_left(cloud)
