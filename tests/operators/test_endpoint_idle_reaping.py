"""Idle local endpoints: the reaper deletes one past its idle_delete_after_h, keeps a busy one; the page shows both.

"Served no request" is what the endpoint's proxy logged of POST /invocations (GET /ping is not a request that counts).
"""

from __future__ import annotations

import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from support.helpers import managed_containers, task_context, wait_until
from support.models import linear_model_archive

from ml_lifecycle import DeleteEndpointOperator, DeployEndpointOperator
from ml_lifecycle.compute import backend_for
from ml_lifecycle.compute.local.endpoint_activity import INVOCATION_LOG, ROTATED_LOG, local_activity
from ml_lifecycle.compute.local.endpoints.proxy import proxy_name
from ml_lifecycle.compute.local.endpoints.proxy_config import ServingLimits, render_config
from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine
from ml_lifecycle.reaper import ReapOrphansOperator

LIMIT_H = 4 / 3600  # 4 seconds: the test waits for the idle one to pass it, polling what its proxy says
WAIT_LIMIT_S = 120


def test_the_router_logs_every_invocation_where_the_activity_reader_looks() -> None:
    config = render_config("ep", "r1", ["10.0.0.2:8080"], ServingLimits())
    invocations = config.split("location = /invocations {", 1)[1].split("}", 1)[0]
    assert f"access_log {INVOCATION_LOG} mlc_invocation;" in invocations
    assert "log_format mlc_invocation '$msec';" in config
    ping = config.split("location = /ping {", 1)[1].split("}", 1)[0]
    assert "access_log" not in ping  # health checks are not requests that keep an endpoint


def test_a_router_whose_invocations_nobody_reads_keeps_no_log() -> None:
    config = render_config("ep", "r1", ["10.0.0.2:8080"], ServingLimits(), log_invocations=False)
    assert "mlc_invocation" not in config and INVOCATION_LOG not in config


def _invoke(url: str) -> str:
    """POST one CSV row and return the prediction.

    :param url: the endpoint's base URL.
    """
    request = urllib.request.Request(
        f"{url}/invocations", data=b"1,1,1,1,1,1,1,1", headers={"Content-Type": "text/csv"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode().strip()


def _ping(url: str) -> int:
    """GET /ping and return the status.

    :param url: the endpoint's base URL.
    """
    with urllib.request.urlopen(f"{url}/ping", timeout=5) as response:
        return int(response.status)


@pytest.mark.docker
def test_an_idle_endpoint_is_deleted_by_the_reaper_and_a_busy_one_is_kept(
    example_image: str, tmp_path: Path, ml_home: Path, docker_client: Any
) -> None:
    scope = f"idle-test-{uuid.uuid4().hex[:8]}"
    idle, busy = f"idle-{uuid.uuid4().hex[:6]}", f"busy-{uuid.uuid4().hex[:6]}"
    model = linear_model_archive(tmp_path / "model.tar.gz", [1.0] * 8, version="v1")
    urls = {}
    stop = threading.Event()
    try:
        for name in (idle, busy):
            urls[name] = DeployEndpointOperator(
                task_id="deploy",
                endpoint_name=name,
                image_uri=example_image,
                model_uri=model,
                idle_delete_after_h=LIMIT_H,
            ).execute(task_context(dag_id=scope))["url"]
        assert _invoke(urls[busy]) == "8.0"

        def keep_busy() -> None:
            while not stop.wait(0.5):
                _invoke(urls[busy])

        worker = threading.Thread(target=keep_busy, daemon=True)
        worker.start()
        endpoints = backend_for("local", None).endpoints()

        def idle_long_enough() -> dict[str, Any] | None:
            assert _ping(urls[idle]) == 200  # pings do not count as requests
            found = {a.endpoint_name: a for a in endpoints.activity({"ml-lifecycle.dag-id": scope})}
            assert set(found) == {idle, busy}
            idle_since = found[idle].idle_since_epoch_s()
            assert idle_since is not None, "the proxy keeps no request log"
            return found if time.time() - idle_since > 2 * LIMIT_H * 3600 else None

        found = wait_until(idle_long_enough, f"{idle} idle past its limit", WAIT_LIMIT_S, interval_s=0.5)
        assert found[idle].last_request_epoch_s is None
        assert found[busy].last_request_epoch_s is not None
        assert (found[busy].instance_type, found[busy].instance_count) == ("ml.m5.large", 1)

        reaped = ReapOrphansOperator(task_id="reap", match_labels={"ml-lifecycle.dag-id": scope}).execute(
            task_context(dag_id="reaper")
        )["reaped"]
        assert [(r["job"], r["kind"]) for r in reaped] == [(idle, "endpoint")]
        assert "served no request" in reaped[0]["reason"]
        assert managed_containers(docker_client, endpoint=idle) == []
        assert not (ml_home / "endpoints" / f"{idle}.json").exists()
        assert _invoke(urls[busy]) == "8.0"

        from ml_lifecycle import settings
        from ml_lifecycle.plugin.html_page import render
        from ml_lifecycle.plugin.overview import collect
        from ml_lifecycle.stores import store_factory

        overview = collect(settings.default_artifact_root(), ml_home, settings.work_dir(), store_factory(None))
        assert overview.problems == []
        assert [n["job"] for n in overview.deleted_endpoints] == [idle]
        shown = {e["endpoint_name"]: e for e in overview.endpoints}
        assert set(shown) == {busy}
        assert shown[busy]["last_request_at"] and shown[busy]["estimated_usd"] is not None
        assert shown[busy]["instance_hours"] > 0 and shown[busy]["idle_delete_after_h"] == LIMIT_H
        page = render(overview)
        assert idle in page.split('class="deleted-endpoints"', 1)[1]
    finally:
        stop.set()
        for name in (idle, busy):
            DeleteEndpointOperator(task_id="delete", endpoint_name=name).execute(task_context())


@pytest.mark.docker
def test_the_invocation_log_is_rotated_once_read_and_keeps_the_last_request(
    example_image: str, tmp_path: Path, ml_home: Path
) -> None:
    scope = f"idle-log-{uuid.uuid4().hex[:8]}"
    name = f"log-{uuid.uuid4().hex[:6]}"
    model = linear_model_archive(tmp_path / "model.tar.gz", [1.0] * 8, version="v1")
    engine = DockerEngine()
    try:
        url = DeployEndpointOperator(
            task_id="deploy", endpoint_name=name, image_uri=example_image, model_uri=model
        ).execute(task_context(dag_id=scope))["url"]
        for _ in range(10):
            _invoke(url)
        proxy = engine.client.containers.get(proxy_name(name))
        assert engine.exec(proxy, ["stat", "-c", "%s", INVOCATION_LOG])[1].strip() == "150"  # 15 bytes a request

        (before,) = local_activity(engine, {"ml-lifecycle.dag-id": scope}, rotate_above_bytes=100)
        assert before.last_request_epoch_s is not None and before.idle_delete_after_h is None
        assert engine.exec(proxy, ["stat", "-c", "%s", ROTATED_LOG])[1].strip() == "150"
        (after,) = local_activity(engine, {"ml-lifecycle.dag-id": scope}, rotate_above_bytes=100)
        assert after.last_request_epoch_s == before.last_request_epoch_s  # the rotated log still tells it

        reopened = lambda: engine.exec(proxy, ["test", "-e", INVOCATION_LOG])[0] == 0  # noqa: E731  (nginx on USR1)
        wait_until(reopened, "the router to reopen its invocation log", WAIT_LIMIT_S, interval_s=0.1)
        _invoke(url)
        assert engine.exec(proxy, ["stat", "-c", "%s", INVOCATION_LOG])[1].strip() == "15"
        (latest,) = local_activity(engine, {"ml-lifecycle.dag-id": scope}, rotate_above_bytes=100)
        assert latest.last_request_epoch_s is not None and latest.last_request_epoch_s > before.last_request_epoch_s
    finally:
        DeleteEndpointOperator(task_id="delete", endpoint_name=name).execute(task_context())
