"""An instance metadata service (IMDSv2) for one emulated EC2 instance, served on 127.0.0.1 for tests.

It answers the paths our bootstrap and agent read, requires a session token as IMDSv2 does (hop limit aside),
and has two emulator-only paths that stand in for the hypervisor: ``POST /emulator/shutdown`` (what the
instance's ``shutdown`` command calls; body ``now`` or ``+<minutes>``) and ``GET /emulator/state``.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN_TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
ROLE_NAME = "ml-lifecycle-instance"


@dataclass
class InstanceIdentity:
    """What the metadata service says about the instance.

    :param instance_id: the EC2 instance id (as moto issued it).
    :param launch_index: the AmiLaunchIndex.
    :param private_ip: the private IPv4 address.
    :param region: the region.
    :param instance_type: the instance type.
    :param access_key_id: the role credentials handed out (test values).
    :param secret_access_key: the role credentials' secret.
    :param account_id: the account id.
    :param role_name: the role its instance profile holds (what iam/security-credentials/ lists).
    """

    instance_id: str
    launch_index: int = 0
    private_ip: str = "10.0.0.10"
    region: str = "us-east-1"
    instance_type: str = "m5.large"
    access_key_id: str = "testing"
    secret_access_key: str = "testing"
    account_id: str = "123456789012"
    role_name: str = ROLE_NAME


@dataclass
class EmulatorState:
    """What the instance asked of its hypervisor, and the notices the test posts to it.

    :param shutdown_requests: the bodies of each shutdown call, in order (``now`` or ``+<minutes>``).
    :param spot_action: the spot instance-action document, or None before an interruption notice.
    :param lifecycle_state: what Auto Scaling intends for the instance (autoscaling/target-lifecycle-state).
    :param token_requests: how many session tokens were issued.
    :param unauthorised_requests: metadata reads without a valid token (IMDSv1 style), refused.
    """

    shutdown_requests: list[str] = field(default_factory=list)
    spot_action: dict[str, str] | None = None
    lifecycle_state: str = "InService"
    token_requests: int = 0
    unauthorised_requests: int = 0


class MetadataService:
    """Serves IMDSv2 for one instance on a free port of 127.0.0.1 until stopped."""

    def __init__(self, identity: InstanceIdentity, on_shutdown: Callable[[str], None] | None = None) -> None:
        """Start serving in a background thread.

        :param identity: the instance's identity.
        :param on_shutdown: called with the request body when the instance asks to shut down.
        """
        self.identity = identity
        self.state = EmulatorState()
        self.on_shutdown = on_shutdown
        self._tokens: set[str] = set()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        """Return the service's base URL (what AWS_EC2_METADATA_SERVICE_ENDPOINT takes)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def interrupt_spot(self, action: str = "terminate") -> None:
        """Post a spot interruption notice, as EC2 does two minutes before it reclaims the instance.

        :param action: ``terminate``, ``stop`` or ``hibernate``.
        """
        self.state.spot_action = {"action": action, "time": "2026-11-25T00:02:00Z"}

    def scale_in(self) -> None:
        """Say that Auto Scaling ends the instance, as the metadata does when its group scales in."""
        self.state.lifecycle_state = "Terminated"

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, path: str) -> tuple[int, str]:
        """Return the status and body for a metadata path.

        :param path: the request path.
        """
        ident = self.identity
        document = {
            "instanceId": ident.instance_id,
            "region": ident.region,
            "accountId": ident.account_id,
            "instanceType": ident.instance_type,
            "privateIp": ident.private_ip,
            "availabilityZone": f"{ident.region}a",
        }
        credentials = {
            "Code": "Success",
            "Type": "AWS-HMAC",
            "AccessKeyId": ident.access_key_id,
            "SecretAccessKey": ident.secret_access_key,
            "Token": "instance-role-session-token",
            "Expiration": "2099-01-01T00:00:00Z",
            "LastUpdated": "2026-11-25T00:00:00Z",
        }
        answers: dict[str, Any] = {
            "/latest/meta-data/instance-id": ident.instance_id,
            "/latest/meta-data/ami-launch-index": str(ident.launch_index),
            "/latest/meta-data/local-ipv4": ident.private_ip,
            "/latest/meta-data/instance-type": ident.instance_type,
            "/latest/meta-data/placement/region": ident.region,
            "/latest/meta-data/placement/availability-zone": f"{ident.region}a",
            "/latest/meta-data/iam/security-credentials/": ident.role_name,
            f"/latest/meta-data/iam/security-credentials/{ident.role_name}": json.dumps(credentials),
            "/latest/dynamic/instance-identity/document": json.dumps(document),
            "/latest/meta-data/autoscaling/target-lifecycle-state": self.state.lifecycle_state,
        }
        if path.rstrip("/") == "/latest/meta-data/spot/instance-action":
            if self.state.spot_action is None:
                return 404, "Not Found"
            return 200, json.dumps(self.state.spot_action)
        if path in answers:
            return 200, answers[path]
        if path.rstrip("/") + "/" in answers:
            return 200, answers[path.rstrip("/") + "/"]
        return 404, "Not Found"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        """Build the request handler class bound to this service."""
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _reply(self, status: int, body: str) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_PUT(self) -> None:
                if self.path != "/latest/api/token" or not self.headers.get(TOKEN_TTL_HEADER):
                    self._reply(400, "Bad Request")
                    return
                token = secrets.token_urlsafe(24)
                with service._lock:
                    service._tokens.add(token)
                    service.state.token_requests += 1
                self._reply(200, token)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode().strip()
                if self.path != "/emulator/shutdown":
                    self._reply(404, "Not Found")
                    return
                service.state.shutdown_requests.append(body)
                if service.on_shutdown is not None:
                    service.on_shutdown(body)
                self._reply(200, "ok")

            def do_GET(self) -> None:
                if self.path == "/emulator/state":
                    self._reply(200, json.dumps(service.state.__dict__))
                    return
                if self.headers.get(TOKEN_HEADER) not in service._tokens:
                    service.state.unauthorised_requests += 1
                    self._reply(401, "Unauthorized")
                    return
                status, body = service._answer(self.path)
                self._reply(status, body)

        return Handler
