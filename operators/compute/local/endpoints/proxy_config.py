"""The endpoint proxy's edge.conf and nginx.conf: SageMaker's serving limits and the model containers, with jinja2."""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml_lifecycle.core import checks
from ml_lifecycle.core.contract import PING_TIMEOUT_S
from ml_lifecycle.errors import EngineError

# The port nginx listens on inside its container when Docker publishes it (ML_LIFECYCLE_PROXY_NETWORK=bridge).
PROXY_PORT = 8080
DEFAULT_MAX_PAYLOAD_MB = 6
MAX_PAYLOAD_MB_LIMIT = 100
INVOCATION_TIMEOUT_S = 60
# SageMaker asks a container to accept the socket within 250 ms; a loaded host gets some slack before the next one.
CONNECT_TIMEOUT_S = 1
VARIANT_NAME = "AllTraffic"
# The request headers SageMaker forwards to a serving container (every other one is dropped).
FORWARDED_HEADERS = (
    "Content-Type",
    "Accept",
    "X-Amzn-SageMaker-Custom-Attributes",
    "X-Amzn-SageMaker-Target-Model",
    "X-Amzn-SageMaker-Target-Variant",
    "X-Amzn-SageMaker-Target-Container-Hostname",
    "X-Amzn-SageMaker-Inference-Id",
    "X-Amzn-SageMaker-Enable-Explanations",
    "X-Amzn-SageMaker-Inference-Component",
    "X-Amzn-SageMaker-Session-Id",
)
TEMPLATE_NAME = "nginx.conf.j2"
EDGE_TEMPLATE_NAME = "edge.conf.j2"
# In the proxy container (docker/endpoint-proxy/start.py and reload.sh name them too).
ROUTER_SOCKET = "/tmp/mlc-router.sock"
ROUTER_PID_FILE = "/tmp/nginx.pid"
# The router logs the time of each POST /invocations here, inside the proxy container (one line of $msec per request;
# ml_lifecycle.compute.local.endpoint_activity reads and rotates it). GET /ping is not counted.
INVOCATION_LOG = "/tmp/mlc-invocations.log"
EDGE_PID_FILE = "/tmp/nginx-edge.pid"
MAX_INVOCATION_TIMEOUT_S = 3600
CONTEXT_ENV = "ML_LIFECYCLE_PROXY_CONTEXT"


@dataclass(frozen=True)
class ServingLimits:
    """What the proxy enforces in front of the model containers.

    :param max_payload_mb: the largest request body in MiB; default 6 (SageMaker's real-time limit).
    :param invocation_timeout_s: how long a POST /invocations may take: 1-3600, default 60.
    :param ping_timeout_s: how long GET /ping may take; default 2.
    """

    max_payload_mb: int = DEFAULT_MAX_PAYLOAD_MB
    invocation_timeout_s: int = INVOCATION_TIMEOUT_S
    ping_timeout_s: float = PING_TIMEOUT_S

    def __post_init__(self) -> None:
        """Validate the payload limit and the invocation timeout."""
        check_max_payload_mb(self.max_payload_mb)
        checks.check_positive_int("invocation_timeout_s", self.invocation_timeout_s, 1, MAX_INVOCATION_TIMEOUT_S)


def check_max_payload_mb(value: object) -> int:
    """Accept a payload limit of 1-100 MiB.

    :param value: the max_payload_mb parameter.
    """
    return checks.check_positive_int("max_payload_mb", value, 1, MAX_PAYLOAD_MB_LIMIT)


def proxy_context() -> Path:
    """Return the folder of the proxy's Dockerfile and templates (ML_LIFECYCLE_PROXY_CONTEXT overrides)."""
    configured = os.environ.get(CONTEXT_ENV)
    folder = Path(configured) if configured else Path(__file__).resolve().parents[4] / "docker" / "endpoint-proxy"
    if not all((folder / name).is_file() for name in (TEMPLATE_NAME, EDGE_TEMPLATE_NAME, "Dockerfile")):
        raise EngineError(
            f"The endpoint proxy's build context {folder} lacks Dockerfile, {TEMPLATE_NAME} or {EDGE_TEMPLATE_NAME}. "
            f"Set {CONTEXT_ENV} to the repository's docker/endpoint-proxy folder"
        )
    return folder


def router_drain_s(limits: ServingLimits) -> int:
    """Return how long the router's old workers may finish their requests after a reload.

    A request may take the invocation timeout twice (a retry on another model container starts before the first
    try's time is up) plus a connect; an old worker is never cut off before that, so the edge never has to send
    again a request the router had already passed on.

    :param limits: the serving limits.
    """
    return 2 * limits.invocation_timeout_s + CONNECT_TIMEOUT_S + 10


def _environment(context: Path | None) -> Any:
    """Return the jinja2 environment of the proxy's templates.

    :param context: the folder holding the templates; default proxy_context().
    """
    return _environment_for(str(context or proxy_context()))


@functools.lru_cache(maxsize=4)
def _environment_for(folder: str) -> Any:
    """Return one jinja2 environment per template folder: each template compiles once (a change reloads it).

    :param folder: the folder holding the templates.
    """
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render_config(
    endpoint_name: str,
    revision: str,
    servers: Sequence[str],
    limits: ServingLimits,
    context: Path | None = None,
    capture_settings: str | None = None,
    log_invocations: bool = True,
) -> str:
    """Render the router's nginx.conf for an endpoint (reloaded on each update).

    :param endpoint_name: the endpoint's name.
    :param revision: the revision the servers belong to.
    :param servers: ``address:port`` of each model container on the endpoint's network (at least one).
    :param limits: the serving limits.
    :param context: the folder holding nginx.conf.j2; default proxy_context().
    :param capture_settings: the data capture's Lua settings (capture_config.lua_settings), or None: no capture.
    :param log_invocations: log each invocation's time to INVOCATION_LOG (a local endpoint's idleness is read there);
        False where nothing reads it (an EC2 host: its load balancer counts the requests).
    """
    if not servers:
        raise EngineError(f"The proxy of endpoint {endpoint_name} needs at least one model container to route to")
    return (
        _environment(context)
        .get_template(TEMPLATE_NAME)
        .render(
            endpoint_name=endpoint_name,
            revision=revision,
            servers=list(servers),
            router_socket=ROUTER_SOCKET,
            pid_file=ROUTER_PID_FILE,
            worker_processes="auto",
            shutdown_timeout_s=router_drain_s(limits),
            max_payload_mb=limits.max_payload_mb,
            invocation_timeout_s=limits.invocation_timeout_s,
            ping_timeout_ms=int(limits.ping_timeout_s * 1000),
            connect_timeout_s=CONNECT_TIMEOUT_S,
            variant_name=VARIANT_NAME,
            forwarded_headers=FORWARDED_HEADERS,
            capture_settings=capture_settings,
            invocation_log=INVOCATION_LOG if log_invocations else "",
        )
    )


def render_edge_config(endpoint_name: str, listen_address: str, context: Path | None = None) -> str:
    """Render the edge's edge.conf for an endpoint (loaded once: it holds the clients' connections).

    :param endpoint_name: the endpoint's name.
    :param listen_address: ``address:port`` the edge listens on, exactly as mlc-proxy-start bound it.
    :param context: the folder holding edge.conf.j2; default proxy_context().
    """
    return (
        _environment(context)
        .get_template(EDGE_TEMPLATE_NAME)
        .render(
            endpoint_name=endpoint_name,
            listen_address=listen_address,
            router_socket=ROUTER_SOCKET,
            pid_file=EDGE_PID_FILE,
            worker_processes="auto",
            max_body_mb=MAX_PAYLOAD_MB_LIMIT,
            router_timeout_s=MAX_INVOCATION_TIMEOUT_S + 60,
            shutdown_timeout_s=MAX_INVOCATION_TIMEOUT_S + 5,
        )
    )
