"""The serving containers of one endpoint revision: started together on the endpoint's network, stopped gracefully."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine
from ml_lifecycle.compute.local.serving.containers import ServingContainer, died_at_start, wait_until_healthy
from ml_lifecycle.compute.local.serving.http_client import ContainerClient
from ml_lifecycle.compute.local.serving.model_files import model_mounts
from ml_lifecycle.core import labels
from ml_lifecycle.core.container_resources import ContainerResources
from ml_lifecycle.core.contract import SERVING_PORT, STOP_GRACE_SERVING_S, host_names
from ml_lifecycle.errors import EngineError

T = TypeVar("T")
R = TypeVar("R")


def in_parallel(func: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """Call func on every item at once (engine calls wait on the engine, not on this process) and keep the order.

    :param func: the call.
    :param items: its arguments.
    """
    if len(items) <= 1:
        return [func(item) for item in items]
    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        return list(pool.map(func, items))


def start_revision(
    engine: DockerEngine,
    *,
    endpoint_name: str,
    revision: str,
    image: str,
    model_dir: str,
    environment: Mapping[str, str],
    revision_labels: Mapping[str, str],
    network: str,
    serving_host: str,
    request_timeout_s: float,
    resources: Sequence[ContainerResources],
) -> list[ServingContainer]:
    """Start a revision's containers (``serve``, the model read-only) on the network, without waiting for /ping.

    Each also publishes 8080 on 127.0.0.1, so the agent checks /ping on each and a person can reach one directly.

    :param engine: the Docker engine.
    :param endpoint_name: the endpoint's name.
    :param revision: the revision.
    :param image: the image id.
    :param model_dir: the unpacked model, mounted at /opt/ml/model.
    :param environment: the container environment.
    :param revision_labels: ownership labels.
    :param network: the endpoint's network.
    :param serving_host: the address published ports are reached at.
    :param request_timeout_s: the timeout of each request the agent sends them.
    :param resources: what each container gets (GPUs, /dev/shm, limits); one per container, algo-1 first.
    """
    created: list[Any] = []

    def start(host_and_resources: tuple[str, ContainerResources]) -> ServingContainer:
        host, host_resources = host_and_resources
        name = f"mlc-ep-{endpoint_name}-{revision}-{host}"
        container = engine.run_service(
            name=name,
            image=image,
            command=["serve"],
            environment=environment,
            mounts=model_mounts(model_dir, name),
            labels={**revision_labels, labels.HOST: host},
            network=network,
            hostname=host,
            container_port=SERVING_PORT,
            replace=False,  # the revision makes the name new
            resources=host_resources,
        )
        created.append(container)
        try:
            port = published_port(container)
        except EngineError as err:  # no port: it died as it started
            raise died_at_start(engine, container) from err
        return ServingContainer(container, ContainerClient(serving_host, port, request_timeout_s))

    try:
        return in_parallel(start, list(zip(host_names(len(resources)), resources, strict=True)))
    except BaseException:
        retire(engine, created, grace_s=0)
        raise


def published_port(container: Any, container_port: int = SERVING_PORT) -> int:
    """Return the host port a started container's port was published on, from its attrs (no engine call).

    :param container: a container read after its start (DockerEngine.run_service).
    :param container_port: the port inside the container.
    """
    bindings = (container.attrs["NetworkSettings"]["Ports"] or {}).get(f"{container_port}/tcp") or []
    if not bindings:
        raise EngineError(f"Container {container.name} has no published port for {container_port}")
    return int(bindings[0]["HostPort"])


def wait_healthy(engine: DockerEngine, servers: Sequence[ServingContainer], startup_timeout_s: float) -> float:
    """Wait until every container answers GET /ping, then have the engine restart each whenever it dies; return the
    slowest one's seconds.

    A container that dies before its first answer is not restarted: the deploy fails with its exit code and last
    words. One that dies later is restarted, however often over its life; only a crash loop (health.CRASH_LOOP_DEATHS
    deaths within health.CRASH_LOOP_WINDOW_S) shows the endpoint Failed.

    :param engine: the Docker engine.
    :param servers: the revision's containers.
    :param startup_timeout_s: the startup budget of each.
    """

    def healthy(server: ServingContainer) -> float:
        took_s = wait_until_healthy(engine, server, startup_timeout_s)
        engine.keep_restarting(server.container)
        return took_s

    return max(in_parallel(healthy, servers), default=0.0)


def upstreams(engine: DockerEngine, servers: Sequence[ServingContainer], network: str) -> list[str]:
    """Return ``address:8080`` of each started container on the endpoint's network, as the proxy reaches them.

    :param engine: the Docker engine.
    :param servers: the revision's containers.
    :param network: the endpoint's network.
    """
    # run_service read the container after its start: the addresses came with it.
    return [f"{engine.network_address(s.container, network, refresh=False)}:{SERVING_PORT}" for s in servers]


def retire(engine: DockerEngine, containers: Sequence[Any], grace_s: int = STOP_GRACE_SERVING_S) -> int:
    """Stop containers together (SIGTERM, then SIGKILL after grace_s) and remove them; return how many.

    :param engine: the Docker engine.
    :param containers: the containers.
    :param grace_s: seconds between SIGTERM and SIGKILL; SageMaker gives serving containers 30.
    """

    def stop(container: Any) -> None:
        if grace_s:
            engine.stop(container, grace_s)
        engine.remove(container)

    in_parallel(stop, list(containers))
    return len(containers)
