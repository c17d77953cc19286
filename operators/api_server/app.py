"""The SageMaker-compatible API as an ASGI app: SageMaker's and CloudWatch Logs' JSON 1.1 operations on ``POST /``
(chosen by ``X-Amz-Target``) and sagemaker-runtime's ``POST /endpoints/{name}/invocations``, on one address, so one
endpoint URL serves the ``sagemaker``, ``sagemaker-runtime`` and ``logs`` clients. Every request is checked for a
valid SigV4 signature before anything else happens.

The Airflow plugin mounts it on the API server (``/sagemaker-api``); ``ml-lifecycle serve-api`` runs it alone.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ml_lifecycle.api_server.config import ApiConfig
from ml_lifecycle.api_server.errors import ApiError, api_error_of
from ml_lifecycle.api_server.operations import Operations
from ml_lifecycle.api_server.runtime import Invoker, ModelError
from ml_lifecycle.api_server.sigv4 import AuthError, IncomingRequest, verify
from ml_lifecycle.compute.ec2.request_signing import signing_credentials

log = logging.getLogger(__name__)

URL_PREFIX = "/sagemaker-api"
JSON_1_1 = "application/x-amz-json-1.1"
# X-Amz-Target's prefix -> the signing name its client uses.
TARGETS = {"SageMaker": "sagemaker", "Logs_20140328": "logs"}
RUNTIME_SIGNING_NAME = "sagemaker"
# Headers that choose what a request does: when present they must be signed (every AWS SDK signs them), so a captured
# request cannot be replayed as another operation.
MUST_SIGN = ("x-amz-target", "content-type")
MAX_JSON_BYTES = 2 * 1024 * 1024  # a SageMaker request is far smaller; the body is read only up to this
MAX_INVOCATION_BYTES = 6 * 1024 * 1024  # SageMaker's InvokeEndpoint payload limit


async def _body(headers: Mapping[str, str], chunks: AsyncIterator[bytes], limit_bytes: int) -> bytes:
    """Read a request's body once its Authorization header looks like a signature, at most limit_bytes of it.

    :param headers: the request's headers (lower-case names).
    :param chunks: its body as it arrives.
    :param limit_bytes: the largest body accepted.
    """
    if not headers.get("authorization", "").startswith("AWS4-HMAC-SHA256 "):
        raise AuthError("MissingAuthenticationToken", "Missing Authentication Token: sign the request (SigV4)")
    declared = headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit_bytes):
        raise ApiError("ValidationException", f"The request body is over {limit_bytes} bytes", 413)
    parts, size = [], 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit_bytes:
            raise ApiError("ValidationException", f"The request body is over {limit_bytes} bytes", 413)
        parts.append(chunk)
    return b"".join(parts)


async def _chunks(receive: Receive) -> AsyncIterator[bytes]:
    """Yield an ASGI request's body as it arrives; stop early when the client went away.

    :param receive: the ASGI receive channel.
    """
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise _ClientGone("the client closed the connection before it sent its body")
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


def _incoming(scope: Scope, headers: Mapping[str, str], body: bytes) -> IncomingRequest:
    """Return the request as its client signed it: the path as sent, with the Host header.

    :param scope: the request's ASGI scope.
    :param headers: its headers (lower-case names).
    :param body: its body.
    """
    raw_path = scope.get("raw_path") or URL(scope=scope).path.encode()
    query = scope.get("query_string", b"").decode()
    host = headers["host"] if "host" in headers else URL(scope=scope).netloc
    url = f"{scope.get('scheme', 'http')}://{host}{raw_path.decode()}"
    return IncomingRequest(scope["method"], url + (f"?{query}" if query else ""), dict(headers), body)


def _headers_of(scope: Scope) -> dict[str, str]:
    """Return an ASGI request's headers by (lower-case) name; of a repeated one, its first value, as Starlette reads it.

    :param scope: the request's ASGI scope.
    """
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in reversed(scope["headers"])}


async def _answer(send: Send, status: int, headers: Iterable[tuple[str, str]], body: bytes) -> None:
    """Send an answer (as Starlette's Response sends it: the given headers, then its Content-Length).

    :param send: the ASGI send channel.
    :param status: its status.
    :param headers: its headers.
    :param body: its body.
    """
    raw = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]
    raw.append((b"content-length", str(len(body)).encode("latin-1")))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _error(err: ApiError, content_type: str = JSON_1_1) -> Response:
    """Return an error as AWS's JSON protocols send one (botocore reads ``__type`` and ``message``).

    :param err: the error.
    :param content_type: the protocol's content type.
    """
    body: dict[str, Any] = {"__type": err.code, "message": err.message}
    body.update(getattr(err, "extra", {}))
    headers = {"x-amzn-errortype": err.code}
    return Response(json.dumps(body), err.status, headers=headers, media_type=content_type)


def create_app(config: ApiConfig | None = None, secret_for: Callable[[str], str | None] | None = None) -> Starlette:
    """Build the app.

    :param config: the API's settings; read from the environment by default.
    :param secret_for: access key id -> its secret; by default the connection the settings name.
    """
    from ml_lifecycle.api_server.credentials import ConnectionCredentials

    settings = config or ApiConfig.from_environment()
    operations = Operations(settings)
    lookup = secret_for or ConnectionCredentials(settings.credentials_conn_id).secret_for
    invoker = Invoker(operations.endpoints.target_of, credentials=signing_credentials(settings.aws_conn_id))
    operations.endpoints.watchers.append(invoker.forget)

    def authenticate(scope: Scope, headers: Mapping[str, str], body: bytes, service: str) -> str:
        caller = verify(_incoming(scope, headers, body), lookup, (service,), must_sign=MUST_SIGN)
        if caller.region != settings.region:
            raise AuthError("InvalidSignatureException", f"Signed for {caller.region}; this API is {settings.region}")
        return caller.access_key_id

    async def json_operation(request: Request) -> Response:
        target = request.headers.get("x-amz-target", "")
        prefix, _, operation = target.partition(".")
        try:
            body = await _body(request.headers, request.stream(), MAX_JSON_BYTES)
            if prefix not in TARGETS:
                raise ApiError("UnknownOperationException", f"X-Amz-Target {target!r} is not an operation here")
            caller = authenticate(request.scope, request.headers, body, TARGETS[prefix])
            handler = operations.handler(prefix, operation)
            payload = json.loads(body) if body.strip() else {}
            if not isinstance(payload, dict):
                raise ApiError("SerializationException", "The request body is not a JSON object")
            answer = await run_in_threadpool(handler, payload, caller)
        except AuthError as err:
            return _error(ApiError(err.code, str(err), err.status))
        except json.JSONDecodeError as err:
            return _error(ApiError("SerializationException", f"The request body is not JSON: {err}"))
        except Exception as err:
            failure = api_error_of(err)
            if failure.status >= 500:
                log.exception("SageMaker API: %s failed", target)
            return _error(failure)
        return Response(json.dumps(answer), 200, media_type=JSON_1_1)

    async def invocations(scope: Scope, receive: Receive, send: Send) -> None:
        # A plain ASGI endpoint (no Request or Response objects): the runtime path is the one clients time.
        headers = _headers_of(scope)
        try:
            body = await _body(headers, _chunks(receive), MAX_INVOCATION_BYTES)
            authenticate(scope, headers, body, RUNTIME_SIGNING_NAME)
            status, answered, payload = await invoker.invoke(scope["path_params"]["name"], headers, body)
        except _ClientGone:
            return  # the client went away before it sent its body: nobody to answer
        except AuthError as err:
            refusal = _error(ApiError(err.code, str(err), err.status), "application/json")
        except (ModelError, ApiError) as err:
            refusal = _error(err, "application/json")
        except Exception as err:
            refusal = _error(api_error_of(err), "application/json")
        else:
            await _answer(send, status, answered.items(), payload)
            return
        await refusal(scope, receive, send)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await invoker.close()
        await run_in_threadpool(operations.close)

    return Starlette(
        routes=[
            Route("/", json_operation, methods=["POST"]),
            Route("/endpoints/{name}/invocations", _AsgiEndpoint(invocations), methods=["POST"]),
        ],
        lifespan=lifespan,
    )


class _ClientGone(Exception):
    """The client closed its connection before it sent the whole request."""


class _AsgiEndpoint:
    """Marks a coroutine function as a plain ASGI app for Starlette's Route (which wraps functions in Request/Response).

    :param handle: the ASGI coroutine function.
    """

    def __init__(self, handle: Callable[[Scope, Receive, Send], Any]) -> None:
        self.handle = handle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.handle(scope, receive, send)
