"""A local endpoint never reports success for something broken: deaths, restarts, owners, concurrent deploys, CLI.

The serving image here misbehaves on request (by its environment): its ``serve`` exits at once, or crashes some
seconds after it started, every time; or its /ping answers late. Each case reproduces what the endpoint said before
(in the docstring) and checks what it says now.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.helpers import managed_containers, task_context
from support.models import linear_model_archive

from ml_lifecycle import DeleteEndpointOperator, DeployEndpointOperator, EndpointInServiceSensor
from ml_lifecycle.compute import backend_for
from ml_lifecycle.errors import EndpointBusy, EndpointNotReady, EndpointOwned

pytestmark = pytest.mark.docker

# A serving container whose environment decides how it misbehaves:
#   SERVE_EXIT_CODE: print a reason and exit with that code at once (a model that cannot load);
#   CRASH_AFTER_S: crash (exit 3) that many seconds after it started, every time it starts;
#   PING_AFTER_S: answer GET /ping 503 until that many seconds after it started.
# POST /invocations answers its MODEL_NAME, so a test sees which deploy serves.
FRAGILE_SERVER = r"""
import os, signal, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
started = time.monotonic()
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # as PID 1, python would ignore a stop's SIGTERM
if sys.argv[1:] != ["serve"]:
    sys.exit("this image only serves")
if os.environ.get("SERVE_EXIT_CODE"):
    print("cannot load the model: /opt/ml/model/model.json has no weights", file=sys.stderr, flush=True)
    sys.exit(int(os.environ["SERVE_EXIT_CODE"]))
if os.environ.get("CRASH_AFTER_S"):
    def crash():
        time.sleep(float(os.environ["CRASH_AFTER_S"]))
        print("segmentation fault in the model server", file=sys.stderr, flush=True)
        os._exit(3)
    threading.Thread(target=crash, daemon=True).start()

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args): pass
    def send(self, status, body=b""):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        ready = time.monotonic() - started >= float(os.environ.get("PING_AFTER_S", "0"))
        self.send(200 if self.path == "/ping" and ready else 503)
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send(200, os.environ.get("MODEL_NAME", "model").encode())

ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
"""


@pytest.fixture(scope="module")
def fragile_image(docker_client: Any, example_image: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The misbehaving serving image (built FROM the example image's base)."""
    context = tmp_path_factory.mktemp("fragile")
    (context / "serve.py").write_text(FRAGILE_SERVER)
    (context / "Dockerfile").write_text(
        'ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY serve.py /serve.py\nENTRYPOINT ["python3", "/serve.py"]\n'
    )
    tag = "ml-lifecycle-test/fragile:test"
    base = os.environ.get("BASE_IMAGE", "python:3.11-slim")
    docker_client.images.build(path=str(context), tag=tag, buildargs={"BASE_IMAGE": base}, rm=True)
    return tag


@pytest.fixture
def model(tmp_path: Path) -> str:
    """A model archive (the fragile server reads none of it)."""
    return linear_model_archive(tmp_path / "model" / "model.tar.gz", [1.0] * 8)


@pytest.fixture
def name(ml_home: Path) -> Iterator[str]:
    """An endpoint name, deleted afterwards from this test's home."""
    endpoint = f"truth-{uuid.uuid4().hex[:8]}"
    yield endpoint
    DeleteEndpointOperator(task_id="delete", endpoint_name=endpoint).execute(task_context())


def _deploy(image: str, model: str, endpoint: str, context: dict[str, Any] | None = None, **env: str) -> dict:
    """Deploy the fragile image with an environment and return the task's XCom value.

    :param image: the image.
    :param model: the model URI.
    :param endpoint: the endpoint's name.
    :param context: the task context (a DAG run); a fresh one by default.
    :param env: the container's environment.
    """
    operator = DeployEndpointOperator(
        task_id="deploy", endpoint_name=endpoint, image_uri=image, model_uri=model, environment=env
    )
    return operator.execute(context or task_context())


def _invoke(url: str) -> bytes:
    """POST one request to the endpoint and return the answer.

    :param url: the endpoint's base URL.
    """
    request = urllib.request.Request(f"{url}/invocations", data=b"1", headers={"Content-Type": "text/csv"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read()


def _wait_for(check: Callable[[], Any], what: str, timeout_s: float = 60) -> Any:
    """Poll check() until it returns something truthy.

    :param check: the condition.
    :param what: what is awaited.
    :param timeout_s: the most seconds to wait.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _cli(*args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the ml-lifecycle command line.

    :param args: its arguments.
    :param home: ML_LIFECYCLE_HOME, when not the test's.
    """
    env = {**os.environ, **({"ML_LIFECYCLE_HOME": str(home)} if home else {})}
    return subprocess.run([sys.executable, "-m", "ml_lifecycle.cli", *args], capture_output=True, text=True, env=env)


def test_a_serve_that_exits_at_once_is_reported_with_its_exit_code_and_last_words(fragile_image, model, name):
    # Before: "Container mlc-ep-... has no published port for 8080", with neither the exit code nor the reason.
    with pytest.raises(EndpointNotReady) as refused:
        _deploy(fragile_image, model, name, SERVE_EXIT_CODE="7")
    message = str(refused.value)
    assert "exit code 7" in message
    assert "cannot load the model: /opt/ml/model/model.json has no weights" in message
    assert "no published port" not in message


def test_a_killed_serving_container_is_restarted_and_answers_again(fragile_image, model, name, docker_client):
    # Before: the endpoint stayed "InService" while every request got 504, and nothing restarted it.
    deployed = _deploy(fragile_image, model, name, MODEL_NAME="v1")
    (server,) = [c for c in managed_containers(docker_client, endpoint=name) if c.labels.get("ml-lifecycle.revision")]
    os.kill(server.attrs["State"]["Pid"], signal.SIGKILL)  # what the OOM killer or a crash does to it

    _wait_for(lambda: _answers(deployed["url"]) == b"v1", "the endpoint to answer again")
    server.reload()
    assert server.attrs["RestartCount"] >= 1
    view = backend_for("local").endpoints().describe(name)
    assert view is not None and view.is_serving, view


def test_a_container_killed_more_often_than_a_few_times_over_its_life_is_still_restarted(
    fragile_image, model, name, docker_client
):
    # Before: the engine gave up after 3 restarts over the container's whole life (a crash a week: dead in a month).
    deployed = _deploy(fragile_image, model, name, MODEL_NAME="v1")
    (server,) = [c for c in managed_containers(docker_client, endpoint=name) if c.labels.get("ml-lifecycle.revision")]
    for kill in range(1, 5):
        _wait_for(lambda: server.reload() or server.attrs["State"]["Running"], "the container to run again")
        os.kill(server.attrs["State"]["Pid"], signal.SIGKILL)
        _wait_for(lambda: _answers(deployed["url"]) == b"v1", f"the endpoint to answer after kill {kill}")

    server.reload()
    assert server.attrs["RestartCount"] >= 4 and server.attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    view = backend_for("local").endpoints().describe(name)
    assert view is not None and view.is_serving, view


def _answers(url: str) -> bytes | None:
    """Return the endpoint's answer, or None while it fails.

    :param url: the endpoint's base URL.
    """
    try:
        return _invoke(url)
    except OSError:
        return None


def test_a_container_that_keeps_dying_shows_failed_with_its_reason(fragile_image, model, name):
    _deploy(fragile_image, model, name, CRASH_AFTER_S="2")
    endpoints = backend_for("local").endpoints()

    view = _wait_for(
        lambda: (v := endpoints.describe(name)) is not None and v.status == "Failed" and v, "Failed", timeout_s=120
    )

    assert "exit code 3" in view.failure_reason and "crash-loops: it died" in view.failure_reason
    assert "segmentation fault in the model server" in view.failure_reason
    listed = _cli("endpoints").stdout
    assert f"{name} Failed" in listed and "segmentation fault" in listed
    with pytest.raises(EndpointNotReady, match="exit code 3"):
        EndpointInServiceSensor(task_id="sense", endpoint_name=name).poke(task_context())


def test_a_deploy_from_another_home_is_refused_and_the_owner_keeps_serving(
    fragile_image, model, name, tmp_path, monkeypatch
):
    # Before: "InService, proxy switched" while the proxy kept serving the other home's model.
    owner = _deploy(fragile_image, model, name, MODEL_NAME="owner")
    home = os.environ["ML_LIFECYCLE_HOME"]
    monkeypatch.setenv("ML_LIFECYCLE_HOME", str(tmp_path / "other-home"))

    with pytest.raises(EndpointOwned) as refused:
        _deploy(fragile_image, model, name, MODEL_NAME="intruder")
    deleted = _cli("delete-endpoint", name, home=tmp_path / "other-home")

    monkeypatch.setenv("ML_LIFECYCLE_HOME", home)
    assert f"ML_LIFECYCLE_HOME={home}" in str(refused.value) and "delete-endpoint" in str(refused.value)
    assert deleted.returncode != 0 and "belongs to" in deleted.stderr
    assert _invoke(owner["url"]) == b"owner"
    assert backend_for("local").endpoints().describe(name).revision == owner["revision"]


def test_two_concurrent_deploys_never_both_report_success(fragile_image, model, name, ml_home):
    # Before: both succeeded; the last silently won, and the first reported a revision that no longer served.
    outcomes: dict[str, Any] = {}

    def deploy(label: str, delay: str) -> None:
        try:
            outcomes[label] = _deploy(fragile_image, model, name, MODEL_NAME=label, PING_AFTER_S=delay)
        except EndpointBusy as err:
            outcomes[label] = err

    first = threading.Thread(target=deploy, args=("first", "3"))
    first.start()
    lock = ml_home / "endpoints" / ".locks" / f"{name}.lock"
    _wait_for(lambda: lock.exists() and "run-id" in lock.read_text(), "the first deploy to hold the endpoint")
    deploy("second", "0")
    first.join(timeout=120)

    assert isinstance(outcomes["second"], EndpointBusy), outcomes
    assert "being deployed or deleted by DAG run" in str(outcomes["second"])
    won = outcomes["first"]
    assert _invoke(won["url"]) == b"first"
    assert backend_for("local").endpoints().describe(name).revision == won["revision"]


def test_the_cli_says_so_when_an_endpoint_or_a_model_does_not_exist(ml_home, tmp_path):
    # Before: "network and record removed", exit 0; and models printed nothing, exit 0.
    deleted = _cli("delete-endpoint", "never-deployed")
    assert deleted.returncode == 1 and "no endpoint named 'never-deployed'" in deleted.stderr
    listed = _cli("models", f"file://{tmp_path}/registry", "no-such-model")
    assert listed.returncode == 1 and "no published version of 'no-such-model'" in listed.stderr
    url = _cli("url", "never-deployed")
    assert url.returncode != 0 and "no endpoint named" in url.stderr
    assert _cli("endpoints").returncode == 0  # listing no endpoint is not an error
