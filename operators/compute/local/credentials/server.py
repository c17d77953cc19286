"""A container credentials endpoint, as ECS serves one: GET with the job's token returns its role's credentials.

It listens on 169.254.170.2 (an address every AWS SDK accepts for this over plain HTTP) of the engine's machine, to
which containers on any bridge network route through their gateway. The address must be on the machine: scripts/
bootstrap.sh adds it to ``lo`` as ECS agents do; without it the job fails before anything starts, saying so.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.roles import CREDENTIALS_ENV, CREDENTIALS_HOST, TOKEN_ENV

log = logging.getLogger(__name__)

CREDENTIALS_PATH = "/v1/credentials"
ADDRESS_FIX = (
    f"Add {CREDENTIALS_HOST} to the Docker engine's machine as ECS agents do (as root: "
    f"`ip addr add {CREDENTIALS_HOST}/32 dev lo`; scripts/bootstrap.sh credentials does it), or run without role_arn"
)


def check_credentials_address() -> None:
    """Raise SpecError, before anything starts, when this machine cannot serve on the credentials address."""
    docker_host = os.environ.get("DOCKER_HOST", "")
    if docker_host and not docker_host.startswith("unix://"):
        raise SpecError(
            "role_arn",
            f"the Docker engine is on another machine (DOCKER_HOST={docker_host}): its containers could not reach "
            "the credentials this machine serves",
            "Run the Airflow worker on the engine's machine (DOCKER_HOST unset or unix://), or run without role_arn",
        )
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((CREDENTIALS_HOST, 0))
        except OSError as err:
            raise SpecError(
                "role_arn", f"containers' credentials cannot be served on {CREDENTIALS_HOST} ({err})", ADDRESS_FIX
            ) from None


class CredentialServer:
    """Serves one document source to the holders of one token, on an ephemeral port of the credentials address.

    :param document: returns the credentials document (renewed by its owner when due).
    """

    def __init__(self, document: Callable[[], dict[str, str]]) -> None:
        self.token = secrets.token_urlsafe(32)
        self.document = document
        self.requests = 0
        self._server = ThreadingHTTPServer((CREDENTIALS_HOST, 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="credentials", daemon=True)

    @property
    def url(self) -> str:
        """The URL containers read (AWS_CONTAINER_CREDENTIALS_FULL_URI)."""
        return f"http://{CREDENTIALS_HOST}:{self._server.server_address[1]}{CREDENTIALS_PATH}"

    def environment(self) -> dict[str, str]:
        """Return what a container's environment needs for the default credential chain to use this server."""
        return {CREDENTIALS_ENV: self.url, TOKEN_ENV: self.token}

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def close(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        """Return the request handler class bound to this server."""
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                given = self.headers.get("Authorization", "")
                if self.path != CREDENTIALS_PATH or not hmac.compare_digest(given, server.token):
                    self._answer(403, {"code": "AccessDenied", "message": "wrong path or authorization token"})
                    return
                try:
                    document = server.document()
                except Exception as err:  # the role could not be assumed again: the SDK retries, then fails
                    log.warning("The execution role's credentials could not be renewed: %s", err)
                    self._answer(503, {"code": "RoleUnavailable", "message": str(err).splitlines()[0][:300]})
                    return
                server.requests += 1
                self._answer(200, document)

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                """Say nothing per request: paths and tokens stay out of logs."""

        return Handler


@contextlib.contextmanager
def serving(document: Callable[[], dict[str, str]] | None) -> Iterator[dict[str, str]]:
    """Serve credentials while the block runs; yield the containers' environment ({} without a role).

    :param document: returns the credentials document, or None when the job has no role.
    """
    if document is None:
        yield {}
        return
    server = CredentialServer(document)
    server.start()
    try:
        yield server.environment()
    finally:
        server.close()
