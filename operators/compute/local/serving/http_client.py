"""A small HTTP client for serving containers: one keep-alive connection per thread, retries, timeouts."""

from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass

from ml_lifecycle.errors import MlLifecycleError


class InvocationError(MlLifecycleError):
    """A request to a serving container failed after its retries."""


@dataclass(frozen=True)
class Response:
    """A response from a serving container.

    :param status: the HTTP status code.
    :param body: the body.
    :param headers: the response headers (lower-case names).
    """

    status: int
    body: bytes
    headers: dict[str, str]


class ContainerClient:
    """Talks to one container's port; safe to share between threads (each thread has its own connection)."""

    def __init__(self, host: str, port: int, timeout_s: float) -> None:
        """Remember where the container listens.

        :param host: the address.
        :param port: the published port.
        :param timeout_s: the socket timeout of each request.
        """
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        """Return this thread's connection, opening it when needed (http.client disables Nagle itself)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
            self._local.conn = conn
        return conn

    def _drop(self) -> None:
        """Close this thread's connection so the next request reconnects."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        chunked: bool = False,
    ) -> Response:
        """Send one request and read the whole response; a dropped keep-alive connection is reopened once.

        :param method: GET or POST.
        :param path: the path, e.g. ``/invocations``.
        :param body: the request body.
        :param headers: request headers.
        :param chunked: send the body with Transfer-Encoding: chunked instead of Content-Length.
        """
        # A list is an iterable body to http.client, which then sends it chunked (and can send it again).
        payload: bytes | list[bytes] | None = [body] if chunked and body else body
        for attempt in range(2):
            conn = self._connection()
            try:
                conn.request(method, path, body=payload, headers=headers or {})
                raw = conn.getresponse()
                data = raw.read()
                result = Response(raw.status, data, {k.lower(): v for k, v in raw.getheaders()})
                if raw.will_close:
                    self._drop()
                return result
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self._drop()
                if attempt:
                    raise
            except (OSError, http.client.HTTPException):
                self._drop()
                raise
        raise AssertionError("unreachable")

    def invoke(
        self,
        body: bytes,
        headers: dict[str, str],
        max_retries: int,
        path: str = "/invocations",
        chunked: bool = False,
    ) -> bytes:
        """POST a payload, retrying connection errors and 5xx answers up to max_retries times.

        :param body: the payload.
        :param headers: Content-Type, Accept and the like.
        :param max_retries: retries after the first try (0-3).
        :param path: the path to POST to.
        :param chunked: send the body with Transfer-Encoding: chunked (max_payload_mb 0).
        """
        last = ""
        for attempt in range(max_retries + 1):
            try:
                response = self.request("POST", path, body, headers, chunked=chunked)
            except TimeoutError:
                last = f"no answer within {self.timeout_s:.0f} s (invocation_timeout_s)"
            except (OSError, http.client.HTTPException) as err:
                last = f"{type(err).__name__}: {err}"
            else:
                if response.status < 400:
                    return response.body
                last = f"HTTP {response.status}: {response.body[:500].decode('utf-8', 'replace')}"
                if response.status < 500:
                    break
            if attempt < max_retries:
                time.sleep(min(0.05 * 2**attempt, 1.0))
        raise InvocationError(f"POST {path} on {self.host}:{self.port} failed: {last}")

    def ping(self, timeout_s: float = 2.0) -> bool:
        """Say whether GET /ping answers 200 within timeout_s.

        :param timeout_s: the contract's ping timeout.
        """
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout_s)
        try:
            conn.request("GET", "/ping")
            response = conn.getresponse()
            response.read()
            return response.status == 200
        except (TimeoutError, OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()
