"""The SageMaker-compatible API as an ASGI app: SageMaker's and CloudWatch Logs' JSON 1.1 operations on ``POST /``
(chosen by ``X-Amz-Target``) and sagemaker-runtime's ``POST /endpoints/{name}/invocations``, on one address, so one
endpoint URL serves the ``sagemaker``, ``sagemaker-runtime`` and ``logs`` clients. Every request is checked for a
valid SigV4 signature before anything else happens.

The Airflow plugin mounts it on the API server (``/sagemaker-api``); ``ml-lifecycle serve-api`` runs it alone.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

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


async def _body(request: Request, limit_bytes: int) -> bytes:
    """Read a request's body once its Authorization header looks like a signature, at most limit_bytes of it.

    :param request: the request.
    :param limit_bytes: the largest body accepted.
    """
    if not request.headers.get("authorization", "").startswith("AWS4-HMAC-SHA256 "):
        raise AuthError("MissingAuthenticationToken", "Missing Authentication Token: sign the request (SigV4)")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit_bytes):
        raise ApiError("ValidationException", f"The request body is over {limit_bytes} bytes", 413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit_bytes:
            raise ApiError("ValidationException", f"The request body is over {limit_bytes} bytes", 413)
        chunks.append(chunk)
    return b"".join(chunks)


def _incoming(request: Request, body: bytes) -> IncomingRequest:
    """Return the request as its client signed it: the path as sent, with the Host header.

    :param request: the request.
    :param body: its body.
    """
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string", b"").decode()
    url = f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}{raw_path.decode()}"
    return IncomingRequest(request.method, url + (f"?{query}" if query else ""), dict(request.headers), body)


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

    def authenticate(request: Request, body: bytes, service: str) -> str:
        caller = verify(_incoming(request, body), lookup, (service,), must_sign=MUST_SIGN)
        if caller.region != settings.region:
            raise AuthError("InvalidSignatureException", f"Signed for {caller.region}; this API is {settings.region}")
        return caller.access_key_id

    async def json_operation(request: Request) -> Response:
        target = request.headers.get("x-amz-target", "")
        prefix, _, operation = target.partition(".")
        try:
            body = await _body(request, MAX_JSON_BYTES)
            if prefix not in TARGETS:
                raise ApiError("UnknownOperationException", f"X-Amz-Target {target!r} is not an operation here")
            caller = authenticate(request, body, TARGETS[prefix])
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

    async def invocations(request: Request) -> Response:
        try:
            body = await _body(request, MAX_INVOCATION_BYTES)
            authenticate(request, body, RUNTIME_SIGNING_NAME)
            status, headers, payload = await invoker.invoke(
                request.path_params["name"], {k.lower(): v for k, v in request.headers.items()}, body
            )
        except AuthError as err:
            return _error(ApiError(err.code, str(err), err.status), "application/json")
        except (ModelError, ApiError) as err:
            return _error(err, "application/json")
        except Exception as err:
            return _error(api_error_of(err), "application/json")
        return Response(payload, status, headers=headers)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await invoker.close()
        await run_in_threadpool(operations.close)

    return Starlette(
        routes=[
            Route("/", json_operation, methods=["POST"]),
            Route("/endpoints/{name}/invocations", invocations, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
