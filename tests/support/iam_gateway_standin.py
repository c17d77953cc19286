"""A stand-in for API Gateway's request path, which moto does not serve: it routes by the HTTP API's routes in moto,
checks SigV4 signatures on AWS_IAM routes as API Gateway does, and forwards to whatever stands behind the
integration's listener.

moto keeps an HTTP API's routes and integrations but answers no request to ``<id>.execute-api...`` and checks no
signature on one. This server plays that part for a test, reading the API from moto on every request; the signature
is recomputed with botocore's SigV4 from the headers the request says it signed and the secret of its access key.
It does not check IAM policies (any known key may call), the ``Host`` API Gateway would see, nor TLS.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_SKEW_S = 300  # API Gateway refuses a signature more than 5 minutes from its clock
AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request, "
    r"SignedHeaders=(?P<signed>[^,]+), Signature=(?P<signature>[0-9a-f]{64})"
)


def signature_problem(
    method: str, url: str, headers: Mapping[str, str], body: bytes, secrets: Mapping[str, str], region: str
) -> str | None:
    """Return why a request's SigV4 signature does not hold for execute-api in region, or None when it does.

    :param method: the HTTP method.
    :param url: the URL as the client addressed it (scheme, host and path).
    :param headers: the request's headers.
    :param body: the request's body.
    :param secrets: access key id -> secret access key of the callers this gateway knows.
    :param region: the API's region.
    """
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    lowered = {k.lower(): v for k, v in headers.items()}
    found = AUTHORIZATION.fullmatch(lowered.get("authorization", ""))
    if found is None:
        return "Missing Authentication Token"
    if (found["service"], found["region"]) != ("execute-api", region):
        return f"Credential should be scoped to execute-api in {region}"
    if found["key"] not in secrets:
        return "The security token included in the request is invalid"
    stamp = lowered.get("x-amz-date", "")
    try:
        signed_at = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return "Missing or malformed X-Amz-Date"
    if abs((dt.datetime.now(dt.UTC) - signed_at).total_seconds()) > MAX_SKEW_S:
        return "Signature expired"
    signed = found["signed"].split(";")
    if "host" not in signed or any(name not in lowered for name in signed):
        return "The request signature we calculated does not match the signature you provided"
    request = AWSRequest(method=method, url=url, data=body, headers={name: lowered[name] for name in signed})
    request.context["timestamp"] = stamp
    signer = SigV4Auth(
        Credentials(found["key"], secrets[found["key"]], lowered.get("x-amz-security-token")), "execute-api", region
    )
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    if not hmac.compare_digest(expected, found["signature"]):
        return "The request signature we calculated does not match the signature you provided"
    return None


class GatewayStandIn:
    """Serves one HTTP API of moto on 127.0.0.1.

    :param apigateway: a boto3 apigatewayv2 client of the moto server.
    :param api_id: the API.
    :param upstreams: integration URI (the load balancer's listener ARN) -> the base URL of what answers behind it.
    :param secrets: access key id -> secret access key of known callers.
    :param region: the API's region.
    """

    def __init__(
        self, apigateway: Any, api_id: str, upstreams: Mapping[str, str], secrets: Mapping[str, str], region: str
    ) -> None:
        self.apigateway = apigateway
        self.api_id = api_id
        self.upstreams = dict(upstreams)
        self.secrets = dict(secrets)
        self.region = region

    def answer(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> tuple[int, bytes]:
        """Return the status and body API Gateway would answer a request with.

        :param method: the HTTP method.
        :param path: the path.
        :param headers: the request's headers.
        :param body: the request's body.
        """
        routes = {r["RouteKey"]: r for r in self.apigateway.get_routes(ApiId=self.api_id)["Items"]}
        route = routes.get(f"{method} {path}") or routes.get("$default")
        if route is None:
            return 404, json.dumps({"message": "Not Found"}).encode()
        if route.get("AuthorizationType") == "AWS_IAM":
            host = {k.lower(): v for k, v in headers.items()}.get("host", "")
            problem = signature_problem(method, f"http://{host}{path}", headers, body, self.secrets, self.region)
            if problem is not None:
                return 403, json.dumps({"message": problem}).encode()
        integration_id = route["Target"].removeprefix("integrations/")
        integration = self.apigateway.get_integration(ApiId=self.api_id, IntegrationId=integration_id)
        upstream = self.upstreams.get(integration["IntegrationUri"])
        if upstream is None:
            return 500, json.dumps({"message": "Internal Server Error"}).encode()
        forwarded = {k: v for k, v in headers.items() if k.lower() in ("content-type", "accept")}
        request = urllib.request.Request(upstream + path, data=body if method == "POST" else None, headers=forwarded)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()


@contextmanager
def serving(gateway: GatewayStandIn) -> Iterator[str]:
    """Serve the stand-in on a free port of 127.0.0.1 and yield its base URL; stop it afterwards.

    :param gateway: the stand-in.
    """

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, method: str) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, answer = gateway.answer(method, self.path, dict(self.headers.items()), body)
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def do_GET(self) -> None:
            self._reply("GET")

        def do_POST(self) -> None:
            self._reply("POST")

        def log_message(self, *args: Any) -> None:
            """Write no line per request (http.server logs each to stderr)."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
