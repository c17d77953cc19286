"""The proxy enforces SageMaker's serving limits, against a real container that reports what reached it."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.helpers import task_context
from support.models import linear_model_archive

from ml_lifecycle import DeleteEndpointOperator, DeployEndpointOperator, settings
from ml_lifecycle.compute.local.endpoints.endpoints import LocalEndpoints
from ml_lifecycle.compute.local.endpoints.proxy_config import ServingLimits
from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine
from ml_lifecycle.core.specs import EndpointSpec
from ml_lifecycle.errors import EndpointNotReady
from ml_lifecycle.stores import store_factory

pytestmark = pytest.mark.docker

MIB = 1024 * 1024

# A serving container that answers POST /invocations with the request headers and body size it received.
# A body "sleep:N" makes it answer after N seconds; "slow-ping:N" makes every later GET /ping take N seconds
# (PING_DELAY_S sets that from the start).
ECHO_SERVER = r"""
import json, os, signal, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
state = {"ping_delay_s": float(os.environ.get("PING_DELAY_S", "0"))}

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def log_message(self, *args): pass
    def send(self, status, body=b"", content_type="application/json"):
        head = f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\nContent-Type: {content_type}\r\n\r\n"
        self.wfile.write(head.encode() + body)
    def do_GET(self):
        if self.path == "/ping":
            time.sleep(state["ping_delay_s"])
            return self.send(200)
        self.send(404)
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if body.startswith(b"sleep:"):
            time.sleep(float(body[6:]))
        elif body.startswith(b"slow-ping:"):
            state["ping_delay_s"] = float(body[10:])
        seen = {"headers": dict(self.headers.items()), "body_bytes": len(body)}
        self.send(200, json.dumps(seen).encode())

signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))  # PID 1 ignores SIGTERM without a handler
if sys.argv[1:] == ["serve"]:
    ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
"""


@pytest.fixture(scope="module")
def echo_image(docker_client: Any, example_image: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An image whose ``serve`` echoes what reached it (built FROM the same base as the example image)."""
    context = tmp_path_factory.mktemp("echo")
    (context / "echo.py").write_text(ECHO_SERVER)
    (context / "Dockerfile").write_text(
        'ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY echo.py /echo.py\nENTRYPOINT ["python3", "/echo.py"]\n'
    )
    base = os.environ.get("BASE_IMAGE", "python:3.11-slim")
    tag = "ml-lifecycle-test/echo:test"
    docker_client.images.build(path=str(context), tag=tag, buildargs={"BASE_IMAGE": base}, rm=True)
    return tag


@pytest.fixture
def endpoints(ml_home: Path) -> Iterator[list[str]]:
    """Names of endpoints a test deploys; each is deleted afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        DeleteEndpointOperator(task_id="delete", endpoint_name=name).execute(task_context())


def _deploy(image: str, model: str, names: list[str], **kwargs: Any) -> str:
    """Deploy an endpoint with the operator and return its URL.

    :param image: the serving image.
    :param model: the model URI.
    :param names: where the endpoint's name is recorded for deletion.
    :param kwargs: more operator parameters.
    """
    name = f"lim-{uuid.uuid4().hex[:8]}"
    names.append(name)
    op = DeployEndpointOperator(task_id="deploy", endpoint_name=name, image_uri=image, model_uri=model, **kwargs)
    return op.execute(task_context())["url"]


def _post(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, bytes, Any]:
    """POST to /invocations and return (status, body, headers), errors included.

    :param url: the endpoint's URL.
    :param body: the request body.
    :param headers: request headers.
    """
    request = urllib.request.Request(f"{url}/invocations", data=body, headers=headers or {"Content-Type": "text/csv"})
    try:
        with urllib.request.urlopen(request, timeout=90) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as err:
        return err.code, err.read(), err.headers


@pytest.fixture
def model(tmp_path: Path) -> str:
    """A model archive (the echo image ignores it)."""
    return linear_model_archive(tmp_path / "m" / "model.tar.gz", [1.0] * 8)


def test_only_sagemaker_headers_reach_the_container_and_the_variant_header_comes_back(echo_image, model, endpoints):
    url = _deploy(echo_image, model, endpoints)
    sent = {
        "Content-Type": "text/csv",
        "Accept": "application/json",
        "X-Amzn-SageMaker-Custom-Attributes": "trace=abc",
        "X-Amzn-SageMaker-Inference-Id": "inference-1",
        "X-Amzn-SageMaker-Target-Variant": "AllTraffic",
        "X-Amzn-SageMaker-Session-Id": "session-1",
        "Authorization": "Bearer secret",
        "Cookie": "a=b",
        "X-Forwarded-For": "10.0.0.1",
        "User-Agent": "tests",
        "X-Custom-Thing": "1",
    }
    status, body, headers = _post(url, b"1,2,3", sent)

    assert status == 200
    assert headers["x-Amzn-Invoked-Production-Variant"] == "AllTraffic"
    received = {k.lower(): v for k, v in json.loads(body)["headers"].items()}
    for name in ("Content-Type", "Accept", *(h for h in sent if h.startswith("X-Amzn-SageMaker-"))):
        assert received[name.lower()] == sent[name]
    for name in ("authorization", "cookie", "x-forwarded-for", "user-agent", "x-custom-thing"):
        assert name not in received
    assert set(received) - {h.lower() for h in sent} <= {"host", "content-length"}


def test_the_default_body_limit_is_6_mb(echo_image, model, endpoints):
    url = _deploy(echo_image, model, endpoints)
    status, body, _ = _post(url, b"x" * (6 * MIB))
    assert (status, json.loads(body)["body_bytes"]) == (200, 6 * MIB)
    status, body, headers = _post(url, b"x" * (6 * MIB + 1))
    assert status == 413
    assert b"limit of 6 MB (max_payload_mb)" in body
    assert headers["x-Amzn-Invoked-Production-Variant"] == "AllTraffic"


def test_max_payload_mb_sets_the_body_limit(echo_image, model, endpoints):
    url = _deploy(echo_image, model, endpoints, max_payload_mb=1)
    assert _post(url, b"x" * MIB)[0] == 200
    status, body, _ = _post(url, b"x" * (MIB + 1))
    assert status == 413
    assert b"limit of 1 MB" in body


def test_an_invocation_longer_than_the_timeout_is_answered_504(echo_image, model, endpoints, ml_home):
    # The contract's 60 s, shortened: the same nginx directive, rendered from the same limits.
    name = f"lim-{uuid.uuid4().hex[:8]}"
    endpoints.append(name)
    spec = EndpointSpec(endpoint_name=name, image_uri=echo_image, model_uri=model)
    record = LocalEndpoints(DockerEngine(), store_factory(None), settings.home_dir(), settings.serving_host()).deploy(
        spec, {}, limits=ServingLimits(invocation_timeout_s=2)
    )

    status, body, _ = _post(record.url, b"sleep:5")
    assert status == 504
    assert b"did not answer in time (POST /invocations: 2 s" in body
    assert _post(record.url, b"sleep:0")[0] == 200


def test_ping_through_the_proxy_is_cut_at_2_s(echo_image, model, endpoints):
    url = _deploy(echo_image, model, endpoints)
    assert _post(url, b"slow-ping:5")[0] == 200
    with pytest.raises(urllib.error.HTTPError) as slow:
        urllib.request.urlopen(f"{url}/ping", timeout=30)
    assert slow.value.code == 504


def test_a_container_whose_ping_takes_longer_than_2_s_never_becomes_healthy(echo_image, model, endpoints):
    with pytest.raises(EndpointNotReady, match="did not answer 200 within 4 s"):
        _deploy(echo_image, model, endpoints, environment={"PING_DELAY_S": "3"}, startup_timeout_s=4)
