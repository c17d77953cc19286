"""Start serving containers (``serve``) with a model under /opt/ml/model and wait until /ping answers."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine
from ml_lifecycle.compute.local.serving.container_state import container_state
from ml_lifecycle.compute.local.serving.http_client import ContainerClient
from ml_lifecycle.compute.local.serving.model_files import model_mounts
from ml_lifecycle.core.container_resources import ContainerResources
from ml_lifecycle.core.contract import PING_TIMEOUT_S, SERVING_PORT
from ml_lifecycle.errors import EndpointNotReady, EngineError

log = logging.getLogger(__name__)

FIRST_PING_INTERVAL_S = 0.002
PING_INTERVAL_S = 0.05
# How often the container's state is asked while /ping does not answer yet.
STATE_CHECK_S = 0.5
STARTUP_ADVICE = "Raise startup_timeout_s if the model loads slowly"


@dataclass
class ServingContainer:
    """A started serving container and how to reach it.

    :param container: the docker SDK container.
    :param client: an HTTP client for its published port.
    """

    container: Any
    client: ContainerClient

    @property
    def url(self) -> str:
        """The base URL of the container."""
        return f"http://{self.client.host}:{self.client.port}"


def start_serving(
    engine: DockerEngine,
    *,
    name: str,
    image: str,
    model_dir: str,
    environment: Mapping[str, str],
    labels: Mapping[str, str],
    host: str,
    request_timeout_s: float,
    resources: ContainerResources | None = None,
) -> ServingContainer:
    """Start one container with ``serve``, its model mounted read-only (its code/ writable), port 8080 published on a free port.

    :param engine: the Docker engine.
    :param name: the container name.
    :param image: the image id or reference.
    :param model_dir: the unpacked model folder mounted at /opt/ml/model.
    :param environment: the container environment.
    :param labels: ownership labels.
    :param host: the address published ports are reached at.
    :param request_timeout_s: the timeout of each request to it.
    :param resources: its GPUs, /dev/shm and limits; None leaves the engine's defaults.
    """
    container = engine.run(
        name=name,
        image=image,
        command=["serve"],
        environment=environment,
        mounts=model_mounts(model_dir, name),
        labels=labels,
        publish_port=SERVING_PORT,
        resources=resources,
    )
    try:
        port = engine.published_port(container, SERVING_PORT)
    except EngineError as err:  # no port: it died as it started
        raise died_at_start(engine, container) from err
    return ServingContainer(container, ContainerClient(host, port, request_timeout_s))


def died_at_start(engine: DockerEngine, container: Any) -> EndpointNotReady:
    """Return the error for a serving container that exited before it answered, in its own words.

    :param engine: the Docker engine.
    :param container: the container.
    """
    state = container_state(engine, container)
    return EndpointNotReady(
        f"The serving container {state.describe()}\n"
        "It exited before GET /ping answered: check that the image runs a server on port 8080 when started with "
        "`serve` (SageMaker's contract), and that the model under /opt/ml/model is the one it expects"
    )


def wait_until_healthy(
    engine: DockerEngine, serving: ServingContainer, startup_timeout_s: float, slow_advice: str = STARTUP_ADVICE
) -> float:
    """Poll GET /ping until it answers 200 and return the seconds it took; fail fast if the container exits.

    The polls start a few milliseconds apart and back off to PING_INTERVAL_S: a fast server is seen as soon as it
    listens, a slow one is not flooded.

    :param engine: the Docker engine.
    :param serving: the container.
    :param startup_timeout_s: the startup budget (SageMaker's default is 4 minutes).
    :param slow_advice: what to do when the budget runs out (it names only parameters the caller has).
    """
    started = time.monotonic()
    deadline = started + startup_timeout_s
    interval = FIRST_PING_INTERVAL_S
    next_state_check = started + STATE_CHECK_S
    while time.monotonic() < deadline:
        if serving.client.ping(PING_TIMEOUT_S):
            return time.monotonic() - started
        # The container state is asked only now and then: a ping is cheaper than an engine round trip.
        if time.monotonic() >= next_state_check:
            next_state_check = time.monotonic() + STATE_CHECK_S
            serving.container.reload()
            if serving.container.status in ("exited", "dead"):
                raise died_at_start(engine, serving.container)
        time.sleep(interval)
        interval = min(interval * 1.5, PING_INTERVAL_S)
    raise EndpointNotReady(
        f"GET /ping on {serving.url} did not answer 200 within {startup_timeout_s:.0f} s:\n"
        f"{engine.log_tail(serving.container)}\n{slow_advice}"
    )
