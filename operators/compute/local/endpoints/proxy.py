"""The nginx container in front of a local endpoint: one URL for the endpoint's life, graceful switches of its models."""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ml_lifecycle import settings
from ml_lifecycle.compute.local.endpoints import capture_config
from ml_lifecycle.compute.local.endpoints.capture_config import CaptureSetup
from ml_lifecycle.compute.local.endpoints.proxy_config import (
    PROXY_PORT,
    ServingLimits,
    proxy_context,
    render_config,
    render_edge_config,
    router_drain_s,
)
from ml_lifecycle.compute.local.endpoints.revision_fleet import published_port
from ml_lifecycle.compute.local.engine.docker_engine import HOST_NETWORK, DockerEngine
from ml_lifecycle.compute.local.serving.http_client import ContainerClient
from ml_lifecycle.core import labels
from ml_lifecycle.core.contract import Mount
from ml_lifecycle.errors import EndpointNotReady, EngineError

log = logging.getLogger(__name__)

PROXY_REPOSITORY = "ml-lifecycle/endpoint-proxy"
ROLE = "ml-lifecycle.role"
ROLE_PROXY = "proxy"
CONFIG_FOLDER = "/etc/mlc-proxy"
CONFIG_NAME = "nginx.conf"
EDGE_CONFIG_NAME = "edge.conf"
RELOAD_COMMAND = "mlc-proxy-reload"
# docker/endpoint-proxy/start.py: where it writes the port it listens on, and the line it prints then.
PORT_FILE = "/tmp/mlc-proxy-port"
LISTENING = re.compile(r"^mlc-proxy: listening on [0-9.]+:(\d+),", re.MULTILINE)
PROXY_USER = "www-data"
# Proxies of another layout (before the edge and router nginx) are replaced on the next deploy.
LAYOUT_LABEL = "ml-lifecycle.proxy-layout"
LAYOUT = "edge-router-2"  # 2: the proxy names its owner (ownership.HOME)
STATUS_CHECK_S = 0.5
LOOPBACK = "127.0.0.1"
READY_TIMEOUT_S = 30.0
FIRST_POLL_S = 0.002
POLL_S = 0.01


def network_name(endpoint_name: str) -> str:
    """Return the name of an endpoint's private network.

    :param endpoint_name: the endpoint's name.
    """
    return f"mlc-ep-{endpoint_name}"


def proxy_name(endpoint_name: str) -> str:
    """Return the name of an endpoint's proxy container.

    :param endpoint_name: the endpoint's name.
    """
    return f"mlc-ep-{endpoint_name}-proxy"


def ensure_proxy_image(engine: DockerEngine, sink: Callable[[str], None] = log.info) -> str:
    """Return the proxy image, building it from docker/endpoint-proxy (FROM ${BASE_IMAGE}) when the engine lacks it.

    :param engine: the Docker engine.
    :param sink: receives the build log when a build runs.
    """
    from ml_lifecycle.compute.local.images.build import BuildFailed, BuildRequest, reuse_or_build

    base = os.environ.get("BASE_IMAGE") or "python:3.11-slim"
    request = BuildRequest(str(proxy_context()), build_args={"BASE_IMAGE": base})
    try:
        return reuse_or_build(engine, request, repository=PROXY_REPOSITORY, sink=sink).image
    except BuildFailed as err:
        raise BuildFailed(
            f"{err}\nThe endpoint proxy is built FROM {base} with Debian's nginx-light: make the base image "
            "(scripts/bootstrap.sh base-image) and let the engine reach the Debian mirror"
        ) from err


class EndpointProxy:
    """One endpoint's nginx: its network, its container, its configuration and its reloads."""

    def __init__(
        self,
        engine: DockerEngine,
        endpoint_name: str,
        limits: ServingLimits,
        serving_host: str,
        config_dir: Path,
        network_mode: str | None = None,
        capture: CaptureSetup | None = None,
        *,
        bind_address: str = LOOPBACK,
        container_name: str | None = None,
        log_invocations: bool = True,
    ) -> None:
        """Name the endpoint's proxy resources.

        :param engine: the Docker engine.
        :param endpoint_name: the endpoint's name.
        :param limits: the serving limits the proxy enforces.
        :param serving_host: the address published ports are reached at.
        :param config_dir: the folder on the engine's host holding nginx.conf and edge.conf, mounted read-only.
        :param network_mode: ``host`` (nginx on the host's network, listening on 127.0.0.1) or ``bridge`` (on the
            endpoint's network, its port published by Docker); default settings.proxy_network().
        :param capture: the data capture its router records, or None.
        :param bind_address: where nginx listens on the host's network: 127.0.0.1 for a local endpoint, 0.0.0.0 on
            an EC2 instance (its load balancer calls it).
        :param container_name: the proxy container's name; default proxy_name(endpoint_name).
        :param log_invocations: log each invocation's time for the idleness reader (local endpoints); an EC2 host's
            load balancer counts its requests instead, and nothing there would read or rotate the log.
        """
        self.bind_address = bind_address
        self.capture = capture
        self.config_dir = config_dir
        self.engine = engine
        self.endpoint_name = endpoint_name
        self.limits = limits
        self.serving_host = serving_host
        self.network = network_name(endpoint_name)
        self.name = container_name or proxy_name(endpoint_name)
        self._network_mode = network_mode
        self.log_invocations = log_invocations
        # The container start() started, for the first route.
        self.started: Any | None = None

    @property
    def on_host(self) -> bool:
        """Whether nginx runs on the host's network (read when needed: a delete works whatever the setting)."""
        return (self._network_mode or settings.proxy_network()) == HOST_NETWORK

    def ensure_network(self, network_labels: Mapping[str, str]) -> str:
        """Create the endpoint's private network unless it exists; return its name.

        :param network_labels: ownership labels.
        """
        self.engine.ensure_named_network(self.network, network_labels)
        return self.network

    def running(self) -> Any | None:
        """Return the proxy container when it runs, else None."""
        found = self.engine.containers({labels.ENDPOINT: self.endpoint_name, ROLE: ROLE_PROXY}, running_only=True)
        return found[0] if found else None

    def start(self, image: str, container_labels: Mapping[str, str], port: int | None) -> int:
        """Start the proxy on standby, holding the endpoint's port, and return that port; first_route routes it.

        On standby mlc-proxy-start listens on the port (no model is routed: a client waits in the backlog); the
        first SIGHUP makes it start the router nginx and the edge nginx, which inherits the socket.

        :param image: the proxy image.
        :param container_labels: ownership labels.
        :param port: the endpoint's port, or None to take a free one (a new endpoint).
        """
        self.config_dir.mkdir(parents=True, exist_ok=True)
        mounts = [Mount(str(self.config_dir), CONFIG_FOLDER, read_only=True)]
        if self.capture is not None:
            capture_config.prepare_folders(self.capture)
            mounts += [
                Mount(str(self.capture.records_dir), capture_config.CAPTURE_ROOT),
                Mount(str(self.capture.state_dir), capture_config.STATE_ROOT),
            ]
        if self.on_host:
            placement: dict[str, Any] = {"network": HOST_NETWORK, "container_port": None}
            environment = {"MLC_PROXY_BIND": self.bind_address, "MLC_PROXY_PORT": str(port or 0)}
        else:
            placement = {"network": self.network, "container_port": PROXY_PORT, "host_port": port}
            environment = {"MLC_PROXY_BIND": "0.0.0.0", "MLC_PROXY_PORT": str(PROXY_PORT)}  # its own network namespace
        container = self.engine.run_service(
            name=self.name,
            image=image,
            labels={
                **container_labels,
                ROLE: ROLE_PROXY,
                LAYOUT_LABEL: LAYOUT,
                capture_config.LABEL: self.capture.label if self.capture else "",
            },
            mounts=mounts,
            environment=environment,
            user=PROXY_USER,
            no_capabilities=True,
            **placement,
        )
        try:
            listening = self._wait_for_standby(container, port)
            port = listening if self.on_host else published_port(container, PROXY_PORT)
            self._write_edge(port)  # it never changes: written now, off the first route's path
            self.started = container
            return port
        except BaseException:
            self.engine.remove(container)
            raise

    def is_current(self, container: Any) -> bool:
        """Say whether a running proxy has this version's layout (an edge and a router nginx, mlc-proxy-start) and
        mounts the capture folder this deploy writes to (a proxy that mounts one no longer used may stay).

        :param container: the proxy container.
        """
        mounted = container.labels.get(capture_config.LABEL, "")
        return container.labels.get(LAYOUT_LABEL) == LAYOUT and (self.capture is None or mounted == self.capture.label)

    def port_of(self, container: Any) -> int:
        """Return the endpoint port a running proxy listens on (where it runs decides, not the current setting).

        :param container: the running proxy container.
        """
        if container.attrs["HostConfig"]["NetworkMode"] != HOST_NETWORK:
            return published_port(container, PROXY_PORT)
        code, output = self.engine.exec(container, ["cat", PORT_FILE])
        if code != 0 or not output.strip().isdigit():
            raise EngineError(f"The proxy {self.name} does not say which port it listens on ({code}): {output}")
        return int(output)

    def route(self, revision: str, servers: Sequence[str], port: int, container: Any | None = None) -> float:
        """Send new requests to servers; return the seconds it took.

        Return only once no nginx worker routes to the previous servers any more (their requests are done), so the
        caller may stop them.

        :param revision: the revision the servers belong to.
        :param servers: ``address:port`` of each model container.
        :param port: the proxy's host port.
        :param container: the running proxy container, when the caller has it (saves an engine call).
        """
        container = container or self.running()
        if container is None:
            raise EngineError(f"The proxy {self.name} of endpoint {self.endpoint_name} is not running")
        started = time.monotonic()
        if not (self.config_dir / EDGE_CONFIG_NAME).is_file():
            self._write_edge(port)  # a proxy still on standby: this reload starts it
        self._write(CONFIG_NAME, self._config(revision, servers))
        timeout_s = router_drain_s(self.limits) + 5
        code, output = self.engine.exec(container, [RELOAD_COMMAND, str(timeout_s)])
        if code != 0:
            raise EngineError(
                f"The proxy {self.name} could not load the configuration of revision {revision} ({code}):\n"
                f"{output.strip()}\n{self.engine.log_tail(container)}"
            )
        self.wait_ready(port, container)
        return time.monotonic() - started

    def first_route(self, revision: str, servers: Sequence[str], port: int, container: Any | None = None) -> float:
        """Switch a proxy on standby to its first revision; return the seconds until it answers through its URL.

        On standby no nginx runs and no client holds a connection to drain: the SIGHUP that makes mlc-proxy-start
        start the router and the edge is the whole switch, and /ping answering through the URL shows it took effect.

        :param revision: the revision the servers belong to.
        :param servers: ``address:port`` of each model container.
        :param port: the proxy's host port.
        :param container: the proxy container, when the caller has it (saves an engine call).
        """
        container = container or self.running()
        if container is None:
            raise EngineError(f"The proxy {self.name} of endpoint {self.endpoint_name} is not running")
        started = time.monotonic()
        if not (self.config_dir / EDGE_CONFIG_NAME).is_file():
            self._write_edge(port)
        self._write(CONFIG_NAME, self._config(revision, servers))
        self.engine.signal(container, "SIGHUP")
        self.wait_ready(port, container)
        return time.monotonic() - started

    def _wait_for_standby(self, container: Any, port: int | None, timeout_s: float = READY_TIMEOUT_S) -> int:
        """Wait until mlc-proxy-start listens (from then on a SIGHUP routes it); return the port it reports.

        :param container: the proxy container.
        :param port: the port it was asked for, or None.
        :param timeout_s: the most seconds to wait.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            found = LISTENING.search(container.logs(stdout=True, stderr=True).decode("utf-8", "replace"))
            if found:
                return int(found.group(1))
            container.reload()
            if container.status not in ("created", "running"):
                tail = self.engine.log_tail(container)
                hint = (
                    f" Another program holds {LOOPBACK}:{port}, the endpoint's port: stop it, or delete the endpoint "
                    "to get a new port."
                    if port and "cannot listen" in tail
                    else ""
                )
                raise EngineError(f"The proxy {self.name} stopped before it listened:\n{tail}{hint}")
            if time.monotonic() > deadline:
                raise EngineError(
                    f"The proxy {self.name} did not listen within {timeout_s:.0f} s:\n{self.engine.log_tail(container)}"
                )
            time.sleep(POLL_S)

    def wait_ready(self, port: int, container: Any, timeout_s: float = READY_TIMEOUT_S) -> float:
        """Wait until GET /ping through the proxy answers 200 (it listens and reaches a model); return the seconds.

        :param port: the proxy's host port.
        :param container: the proxy container (a proxy that stops fails the wait at once).
        :param timeout_s: the most seconds to wait.
        """
        client = ContainerClient(self.serving_host, port, self.limits.ping_timeout_s)
        started = time.monotonic()
        checked = started
        interval = FIRST_POLL_S
        while not client.ping(self.limits.ping_timeout_s):
            now = time.monotonic()
            if now > started + timeout_s:
                raise EndpointNotReady(self._not_ready(port, timeout_s))
            if now - checked >= STATUS_CHECK_S:
                checked = now
                container.reload()
                if container.status != "running":
                    raise EndpointNotReady(
                        f"The proxy {self.name} stopped ({container.status}):\n{self.engine.log_tail(container)}"
                    )
            time.sleep(interval)
            interval = min(interval * 1.5, POLL_S)
        return time.monotonic() - started

    def _not_ready(self, port: int, timeout_s: float) -> str:
        """Say that the proxy did not answer, with its last log lines.

        :param port: the proxy's host port.
        :param timeout_s: how long it was given.
        """
        container = self.running()
        tail = self.engine.log_tail(container) if container is not None else "(the proxy container is not running)"
        return (
            f"GET /ping through the proxy {self.name} at {self.serving_host}:{port} did not answer 200 within "
            f"{timeout_s:.0f} s:\n{tail}\nCheck that ML_LIFECYCLE_SERVING_HOST reaches the engine's 127.0.0.1; where the "
            "engine's host network is not this machine's (Docker Desktop, rootless Docker), set "
            "ML_LIFECYCLE_PROXY_NETWORK=bridge"
        )

    def remove_container(self) -> int:
        """Stop the proxy (nginx finishes the requests it holds) and remove it; return how many containers went."""
        found = self.engine.containers({labels.ENDPOINT: self.endpoint_name, ROLE: ROLE_PROXY})
        for container in found:
            self.engine.stop(container, self.limits.invocation_timeout_s)
            self.engine.remove(container)
        return len(found)

    def _config(self, revision: str, servers: Sequence[str]) -> str:
        """Render the router's nginx.conf, with the data capture when the endpoint captures.

        :param revision: the revision the servers belong to.
        :param servers: ``address:port`` of each model container.
        """
        lua = capture_config.lua_settings(self.capture) if self.capture is not None else None
        return render_config(
            self.endpoint_name,
            revision,
            servers,
            self.limits,
            capture_settings=lua,
            log_invocations=self.log_invocations,
        )

    def _write_edge(self, port: int) -> None:
        """Write edge.conf: the edge listens where mlc-proxy-start did, and never changes afterwards.

        :param port: the endpoint's port.
        """
        listen_address = f"{self.bind_address}:{port}" if self.on_host else f"0.0.0.0:{PROXY_PORT}"  # own netns if not
        self._write(EDGE_CONFIG_NAME, render_edge_config(self.endpoint_name, listen_address))

    def _write(self, name: str, text: str) -> None:
        """Write a configuration into the mounted folder atomically (nginx reads it at start and at each reload).

        :param name: the file name (nginx.conf or edge.conf).
        :param text: its content.
        """
        self.config_dir.mkdir(parents=True, exist_ok=True)
        temp = self.config_dir / f".{name}.tmp"
        temp.write_text(text)
        temp.chmod(0o644)
        os.replace(temp, self.config_dir / name)
