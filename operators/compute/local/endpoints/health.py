"""A local endpoint as it is, not as its record was written: its serving containers and its proxy, asked now.

A serving container that dies (a crash, an out-of-memory kill) is restarted by the engine, however often over its life
(revision_fleet.wait_healthy); while it is down the endpoint is InService with a serving problem. One that is gone for
good, or crash-loops (CRASH_LOOP_DEATHS deaths within CRASH_LOOP_WINDOW_S, as the engine's events count them), has
given up; once every container of the live revision has, the endpoint is Failed, with each one's exit code and last
lines.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from ml_lifecycle.compute.local.endpoints.proxy import ROLE, ROLE_PROXY
from ml_lifecycle.compute.local.endpoints.record import EndpointRecord
from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine
from ml_lifecycle.compute.local.serving.container_state import ContainerState, container_state
from ml_lifecycle.core import labels
from ml_lifecycle.core.status import EndpointStatus

# Engine states from which a container comes back by itself (the restart policy is at work).
COMING_BACK = frozenset({"restarting"})
# A container that died this often within this window is crash-looping: restarting it again will not make it serve.
CRASH_LOOP_DEATHS = 5
CRASH_LOOP_WINDOW_S = 300.0


@dataclass(frozen=True)
class Health:
    """What the engine says of an InService endpoint.

    :param status: the endpoint's status as it truly is (InService, or Failed once nothing can serve).
    :param failure_reason: why it is Failed ("" when it is not).
    :param serving_problem: why it cannot serve all requests now although InService ("" when it can).
    """

    status: str
    failure_reason: str = ""
    serving_problem: str = ""


def judge(servers: list[ContainerState], proxy: ContainerState | None) -> Health:
    """Judge an InService endpoint from the state of its live revision's containers and of its proxy.

    :param servers: the live revision's serving containers.
    :param proxy: the proxy container, or None when it is gone.
    """
    down = [s for s in servers if not s.is_running]
    for_good = [s for s in down if s.status not in COMING_BACK or crash_loops(s)]
    if not servers or (len(for_good) == len(servers)):
        reasons = "; ".join(given_up(s) for s in for_good) or "its serving containers are gone"
        return Health(EndpointStatus.FAILED, failure_reason=f"No serving container runs: {reasons}")
    problems = [s.describe() for s in down]
    if proxy is None or not proxy.is_running:
        problems.insert(0, "the proxy in front of it does not run" + (f" ({proxy.describe()})" if proxy else ""))
    return Health(EndpointStatus.IN_SERVICE, serving_problem="; ".join(problems))


def crash_loops(server: ContainerState) -> bool:
    """Say whether a container died too often lately for another restart to help.

    :param server: the container's state, with its recent deaths.
    """
    return server.recent_deaths >= CRASH_LOOP_DEATHS


def given_up(server: ContainerState) -> str:
    """Say why a container will not serve again by itself.

    :param server: the container's state.
    """
    if not crash_loops(server):
        return server.describe()
    return (
        f"{server.name} crash-loops: it died {server.recent_deaths} times within {CRASH_LOOP_WINDOW_S:.0f} s "
        f"(the engine keeps restarting it; fix the model server and deploy again): {server.describe()}"
    )


def endpoint_health(engine: DockerEngine, record: EndpointRecord) -> Health:
    """Ask the engine how an InService endpoint's live revision and proxy are doing.

    :param engine: the Docker engine.
    :param record: the endpoint's record (InService).
    """
    name = record.endpoint_name
    servers = engine.containers({labels.ENDPOINT: name, labels.REVISION: record.revision})
    proxies = engine.containers({labels.ENDPOINT: name, ROLE: ROLE_PROXY})
    window_start_s = time.time() - CRASH_LOOP_WINDOW_S
    states = []
    for container in servers:
        if (container.labels or {}).get(ROLE) == ROLE_PROXY:
            continue
        state = container_state(engine, container)
        if state.status in COMING_BACK:  # down, coming back: unless it crash-loops
            state = dataclasses.replace(state, recent_deaths=engine.deaths_since(container, window_start_s))
        states.append(state)
    proxy = container_state(engine, proxies[0]) if proxies else None
    return judge(states, proxy)
