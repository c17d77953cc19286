"""Endpoint updates under load fail no request; a bring-your-own nginx + gunicorn image serves behind the proxy."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from support.helpers import managed_containers, task_context
from support.models import linear_model_archive

from ml_lifecycle import DeleteEndpointOperator, DeployEndpointOperator

pytestmark = pytest.mark.docker

BYO_CONTEXT = Path(__file__).resolve().parents[2] / "examples" / "containers" / "nginx-gunicorn"
BYO_IMAGE = "ml-lifecycle-test/nginx-gunicorn:test"
ROW = b"1,1,1,1,1,1,1,1"
STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


@pytest.fixture(scope="module")
def byo_image(docker_client: Any, example_image: str) -> str:
    """examples/containers/nginx-gunicorn, built FROM the base image with wheels pip-downloaded on this host."""
    wheels = BYO_CONTEXT / "wheels"
    if not list(wheels.glob("gunicorn-*.whl")) or not list(wheels.glob("pip-*.whl")):
        subprocess.run(
            ["bash", str(BYO_CONTEXT / "fetch-wheels.sh")], env={**os.environ, "PYTHON": sys.executable}, check=True
        )
    base = os.environ.get("BASE_IMAGE", "python:3.11-slim")
    docker_client.images.build(path=str(BYO_CONTEXT), tag=BYO_IMAGE, buildargs={"BASE_IMAGE": base}, rm=True)
    return BYO_IMAGE


@pytest.fixture
def endpoint_name(ml_home: Path) -> Iterator[str]:
    """A fresh endpoint name, deleted after the test."""
    name = f"upd-{uuid.uuid4().hex[:8]}"
    yield name
    DeleteEndpointOperator(task_id="delete", endpoint_name=name).execute(task_context())


@dataclass
class Outcome:
    """One request of a load client.

    :param started: time.monotonic() when it was sent.
    :param status: the HTTP status, or 0 when it failed without one.
    :param version: the X-Model-Version answered.
    :param error: the exception, when there was one.
    """

    started: float
    status: int
    version: str = ""
    error: str = ""


@dataclass
class LoadClient:
    """Sends POST /invocations without pause until told to stop, on one keep-alive connection or one per request.

    A keep-alive client that retries behaves as HTTP/1.1 asks (RFC 9112, 9.3.1): when the server has closed the
    idle connection it is about to reuse, and no byte of a response came, it opens a new one and sends again
    (counted in reopened). One that does not retry (a bare ``requests.Session.post``) counts that as a failure, as
    does a connection-per-request client for any error.

    :param url: the endpoint's base URL.
    :param keep_alive: reuse one connection.
    :param retry_stale: reopen a kept-alive connection the server closed while it was idle, and send again.
    """

    url: str
    keep_alive: bool
    retry_stale: bool = True
    outcomes: list[Outcome] = field(default_factory=list)
    reopened: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        """Send requests until stop is set."""
        address = urlsplit(self.url)
        conn: http.client.HTTPConnection | None = None
        headers = (
            {"Content-Type": "text/csv"} if self.keep_alive else {"Content-Type": "text/csv", "Connection": "close"}
        )
        while not self.stop.is_set():
            started = time.monotonic()
            for attempt in range(2):
                reused = conn is not None
                conn = conn or http.client.HTTPConnection(address.hostname, address.port, timeout=30)
                try:
                    conn.request("POST", "/invocations", body=ROW, headers=headers)
                    response = conn.getresponse()
                    response.read()
                except STALE as err:
                    conn.close()
                    conn = None
                    if reused and attempt == 0 and self.retry_stale:
                        self.reopened += 1
                        continue
                    self.outcomes.append(Outcome(started, 0, error=f"{type(err).__name__}: {err}"))
                    break
                except (OSError, http.client.HTTPException) as err:
                    conn.close()
                    conn = None
                    self.outcomes.append(Outcome(started, 0, error=f"{type(err).__name__}: {err}"))
                    break
                self.outcomes.append(Outcome(started, response.status, response.getheader("X-Model-Version", "")))
                if response.will_close or not self.keep_alive:
                    conn.close()
                    conn = None
                break
        if conn is not None:
            conn.close()


def _deploy(name: str, image: str, model: str, instances: int) -> tuple[dict[str, Any], float, float]:
    """Deploy and return (the operator's result, when it started, when it returned).

    :param name: the endpoint name.
    :param image: the serving image.
    :param model: the model URI.
    :param instances: instance_count.
    """
    started = time.monotonic()
    result = DeployEndpointOperator(
        task_id="deploy", endpoint_name=name, image_uri=image, model_uri=model, instance_count=instances
    ).execute(task_context())
    return result, started, time.monotonic()


def _under_load(url: str, updates: list[tuple[str, str, int]], name: str) -> tuple[list[LoadClient], list[float]]:
    """Run 4 keep-alive clients (2 retry a stale connection, 2 never retry) and 2 connection-per-request clients
    while the endpoint is updated; return them and the monotonic time at which each update returned.

    :param url: the endpoint's URL.
    :param updates: (image, model URI, instance_count) of each update.
    :param name: the endpoint name.
    """
    clients = [LoadClient(url, keep_alive=True, retry_stale=retry) for retry in (True, True, False, False)] + [
        LoadClient(url, keep_alive=False) for _ in range(2)
    ]
    threads = [threading.Thread(target=c.run, daemon=True) for c in clients]
    for thread in threads:
        thread.start()
    returned = []
    try:
        for image, model, instances in updates:
            # Requests flow before each update: wait until every client has had some answers.
            while min(len(c.outcomes) for c in clients) < 20 * (len(returned) + 1):
                time.sleep(0.01)
            result, _started, done = _deploy(name, image, model, instances)
            assert result["url"] == url
            returned.append(done)
        while min(sum(o.started > returned[-1] for o in c.outcomes) for c in clients) < 20:
            time.sleep(0.01)
    finally:
        for client in clients:
            client.stop.set()
        for thread in threads:
            thread.join(timeout=60)
    return clients, returned


def _check(clients: list[LoadClient], returned: list[float], versions: list[str]) -> None:
    """Assert no request failed, no kept-alive connection was closed, each update took over, and nothing answered
    from a replaced model afterwards.

    :param clients: the load clients.
    :param returned: when each update returned.
    :param versions: the model version before the first update, then after each.
    """
    outcomes = [o for c in clients for o in c.outcomes]
    failed = [o for o in outcomes if o.status != 200]
    assert failed == [], f"{len(failed)} of {len(outcomes)} requests failed, e.g. {failed[:5]}"
    # The edge nginx holding the clients' connections is never reloaded: no update closes one.
    assert [c.reopened for c in clients] == [0] * len(clients)
    assert {o.version for o in outcomes} == set(versions)
    for done, version in zip(returned, versions[1:], strict=True):
        after = [o.version for o in outcomes if o.started > done]
        assert after and all(v in versions[versions.index(version) :] for v in after)
    for client in clients:
        assert client.outcomes[-1].version == versions[-1]
    print(f"{len(outcomes)} requests, none failed, no kept-alive connection closed")


def test_model_updates_under_load_fail_no_request(example_image, tmp_path, ml_home, endpoint_name):
    models = {v: linear_model_archive(tmp_path / v / "model.tar.gz", [1.0] * 8, version=v) for v in ("v1", "v2", "v3")}
    url = _deploy(endpoint_name, example_image, models["v1"], 2)[0]["url"]

    clients, returned = _under_load(
        url, [(example_image, models["v2"], 2), (example_image, models["v3"], 3)], endpoint_name
    )

    _check(clients, returned, ["v1", "v2", "v3"])


def test_an_image_update_under_load_fails_no_request(example_image, byo_image, tmp_path, ml_home, endpoint_name):
    first = linear_model_archive(tmp_path / "v1" / "model.tar.gz", [1.0] * 8, version="v1")
    second = linear_model_archive(tmp_path / "v2" / "model.tar.gz", [2.0] * 8, version="v2")
    url = _deploy(endpoint_name, example_image, first, 1)[0]["url"]

    clients, returned = _under_load(url, [(byo_image, second, 2)], endpoint_name)

    _check(clients, returned, ["v1", "v2"])


def test_a_bring_your_own_nginx_gunicorn_image_serves_behind_the_proxy(
    byo_image, tmp_path, ml_home, docker_client, endpoint_name
):
    model = linear_model_archive(tmp_path / "m" / "model.tar.gz", [1.0, 2.0], intercept=0.5, version="byo-1")
    url = _deploy(endpoint_name, byo_image, model, 1)[0]["url"]

    csv = urllib.request.Request(
        f"{url}/invocations",
        data=b"1,1\n2,2\n",
        headers={"Content-Type": "text/csv", "X-Amzn-SageMaker-Custom-Attributes": "trace=7"},
    )
    with urllib.request.urlopen(csv, timeout=10) as response:
        assert response.read() == b"3.5\n6.5\n"
        assert response.headers["X-Model-Version"] == "byo-1"
        assert response.headers["X-Amzn-SageMaker-Custom-Attributes"] == "trace=7"
        assert response.headers["x-Amzn-Invoked-Production-Variant"] == "AllTraffic"
    as_json = urllib.request.Request(
        f"{url}/invocations",
        data=json.dumps({"instances": [[1, 1]]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(as_json, timeout=10) as response:
        assert json.loads(response.read()) == {"predictions": [3.5]}

    # serve handles SIGTERM: nginx and gunicorn stop gracefully and the container exits 0 within the grace period.
    (container,) = [
        c for c in managed_containers(docker_client, endpoint=endpoint_name) if "ml-lifecycle.revision" in c.labels
    ]
    container.stop(timeout=30)
    assert container.wait(timeout=60)["StatusCode"] == 0
    assert "SIGTERM: stopping nginx and gunicorn gracefully" in container.logs().decode()
