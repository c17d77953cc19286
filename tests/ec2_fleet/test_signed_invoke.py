"""An IAM-protected EC2 endpoint (auth="iam"): an unsigned request is rejected, `ml-lifecycle invoke` signs and is
answered, a wrong secret or a changed body is rejected.

What checks what: the endpoint, its HTTP API, AWS_IAM routes, integration and VPC link are made in moto by the real
deploy. moto serves no request to an API and checks no signature on one, so tests/support/iam_gateway_standin.py plays
API Gateway's request path from the API's routes in moto and verifies SigV4 with botocore. It checks the signature
(key, scope, time, signed headers, body) but no IAM policy, and no TLS; the model behind the listener is a small HTTP
server here (moto routes no traffic through a load balancer).
"""

from __future__ import annotations

import io
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from support import ec2_endpoints as ep
from support.helpers import task_context
from support.iam_gateway_standin import GatewayStandIn, serving, signature_problem

from ml_lifecycle.cli import main
from ml_lifecycle.compute.ec2.request_signing import signed_headers
from ml_lifecycle.core.ec2.endpoint_access import execute_api_region

REGION = "us-east-1"
KNOWN = {"testing": "testing"}  # the moto fixture's credentials: the caller the stand-in knows


@pytest.fixture
def model_behind_the_listener() -> Iterator[str]:
    """A small HTTP server answering /ping and /invocations (``scored:<body>``) in place of the load balancer's targets."""

    class Model(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._send(200 if self.path == "/ping" else 404, b"")

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._send(200, b"scored:" + body)

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            """Write no line per request (http.server logs each to stderr)."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Model)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(10)


@pytest.fixture
def iam_endpoint(cloud, model_behind_the_listener) -> Iterator[str]:
    """Deploy an auth="iam" endpoint in moto and serve its API through the stand-in; yield the stand-in's URL."""
    ep.deploy_task(cloud, auth="iam").execute(task_context())
    state = ep.read_state(cloud)
    gateway = GatewayStandIn(
        cloud.apigatewayv2, state["api_id"], {state["listener_arn"]: model_behind_the_listener}, KNOWN, REGION
    )
    try:
        with serving(gateway) as url:
            yield url
    finally:
        ep.delete_endpoint(cloud)
        ep.nothing_left(cloud)


def _invoke(args: list[str], body: bytes, monkeypatch: pytest.MonkeyPatch, capsysbinary) -> tuple[int, bytes, str]:
    """Run `ml-lifecycle invoke` with body on standard input; return its exit code, output and error output."""
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(body)))
    code = main(["invoke", *args])
    captured = capsysbinary.readouterr()
    return code, captured.out, captured.err.decode()


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """POST and return the status and body."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_an_unsigned_request_is_rejected_and_a_signed_one_answers(iam_endpoint, monkeypatch, capsysbinary):
    status, body = _post(f"{iam_endpoint}/invocations", b"1,2", {"Content-Type": "text/csv"})
    assert (status, json.loads(body)) == (403, {"message": "Missing Authentication Token"})

    code, out, err = _invoke([iam_endpoint, "--sign-region", REGION], b"1,2", monkeypatch, capsysbinary)
    assert (code, out, err) == (0, b"scored:1,2", "")


def test_the_sagemaker_apis_runtime_signs_what_it_forwards_to_an_iam_endpoint(iam_endpoint):
    # InvokeEndpoint through the API forwards to the endpoint's URL; for an auth="iam" endpoint its lookup names the
    # region (test_invoke_by_name... checks that lookup from the endpoint's description), and it signs with the API's
    # AWS connection. Without the region the same forward goes unsigned and the gateway refuses it.
    import asyncio

    from ml_lifecycle.api_server.runtime import Invoker, ModelError
    from ml_lifecycle.compute.ec2.request_signing import signing_credentials

    async def forward(region: str | None) -> tuple[int, dict[str, str], bytes]:
        invoker = Invoker(
            lambda _: (iam_endpoint, "AllTraffic", region), credentials=signing_credentials("aws_default")
        )
        try:
            return await invoker.invoke("churn", {"content-type": "text/csv"}, b"1,2")
        finally:
            await invoker.close()

    status, _headers, body = asyncio.run(forward(REGION))
    assert (status, body) == (200, b"scored:1,2")
    with pytest.raises(ModelError) as refused:
        asyncio.run(forward(None))
    assert refused.value.extra["OriginalStatusCode"] == 403


def test_invoke_by_name_signs_for_an_iam_endpoint_and_not_for_a_vpc_one(cloud):
    from argparse import Namespace

    from ml_lifecycle.cli import _invocation_target

    by_name = Namespace(target=cloud.name, compute="ec2", aws_conn_id="aws_default", sign_region=None)
    ep.deploy_task(cloud).execute(task_context())
    assert _invocation_target(by_name) == (f"http://{ep.read_state(cloud)['dns_name']}", None)
    ep.delete_endpoint(cloud)
    ep.deploy_task(cloud, auth="iam").execute(task_context())
    assert _invocation_target(by_name) == (ep.read_state(cloud)["api_endpoint"], REGION)
    ep.delete_endpoint(cloud)
    ep.nothing_left(cloud)


def test_a_wrong_secret_or_a_changed_body_is_rejected(iam_endpoint, monkeypatch, capsysbinary):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    code, out, err = _invoke([iam_endpoint, "--sign-region", REGION], b"1,2", monkeypatch, capsysbinary)
    assert code == 1 and out == b"" and "403" in err and "signature" in err

    from botocore.credentials import Credentials

    url = f"{iam_endpoint}/invocations"
    headers = signed_headers(
        "POST", url, b"1,2", {"Content-Type": "text/csv"}, REGION, Credentials("testing", "testing")
    )
    assert _post(url, b"1,2", headers)[0] == 200
    assert _post(url, b"9,9", headers)[0] == 403  # the body is part of the signature
    other_region = signed_headers("POST", url, b"1,2", {}, "eu-west-1", Credentials("testing", "testing"))
    assert _post(url, b"1,2", other_region)[0] == 403


def test_the_stand_in_refuses_what_api_gateway_refuses():
    from botocore.credentials import Credentials

    url = "http://gw/invocations"
    signed = signed_headers("POST", url, b"x", {"Content-Type": "text/csv"}, REGION, Credentials("testing", "testing"))
    good = {**signed, "Host": "gw"}  # as the HTTP client sends it
    assert signature_problem("POST", url, good, b"x", KNOWN, REGION) is None
    assert "does not match" in signature_problem("POST", url, good, b"y", KNOWN, REGION)
    assert "invalid" in signature_problem("POST", url, good, b"x", {"other": "testing"}, REGION)
    assert "does not match" in signature_problem("POST", url, {**good, "Host": "other"}, b"x", KNOWN, REGION)
    assert "Missing" in signature_problem("POST", url, {"Content-Type": "text/csv"}, b"x", KNOWN, REGION)


@pytest.mark.parametrize(
    ("url", "region"),
    [
        ("https://a1b2c3.execute-api.eu-west-1.amazonaws.com", "eu-west-1"),
        ("https://a1b2c3.execute-api.cn-north-1.amazonaws.com.cn/invocations", "cn-north-1"),
        ("http://internal-mlc-ep-1.us-east-1.elb.amazonaws.com", None),
        ("http://127.0.0.1:8080", None),
    ],
)
def test_api_gateway_addresses_are_signed_for_their_region(url, region):
    assert execute_api_region(url) == region
