"""One owner per endpoint name on an engine: the state home that deployed it, named on its proxy.

Two clones (or a shell that forgot scripts/env.sh) keep their endpoint records in different ML_LIFECYCLE_HOMEs, but
share the engine, where an endpoint's proxy and network are found by its name. Without an owner, a deploy from the
second home would take the proxy over while the first home's record still described it.
"""

from __future__ import annotations

from pathlib import Path

from ml_lifecycle.compute.local.endpoints.proxy import ROLE, ROLE_PROXY
from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine
from ml_lifecycle.core import labels
from ml_lifecycle.errors import EndpointOwned

# The label naming the ML_LIFECYCLE_HOME that owns an endpoint, on its proxy, containers and network.
HOME = "ml-lifecycle.home"


def owner_of(engine: DockerEngine, endpoint_name: str) -> str | None:
    """Return the state home an endpoint's proxy names, or None (no proxy, or one older than the label).

    :param engine: the Docker engine.
    :param endpoint_name: the endpoint's name.
    """
    for proxy in engine.containers({labels.ENDPOINT: endpoint_name, ROLE: ROLE_PROXY}):
        home = (proxy.labels or {}).get(HOME)
        if home:
            return str(home)
    return None


def claim(engine: DockerEngine, endpoint_name: str, home: Path, action: str) -> None:
    """Refuse to change an endpoint another state home owns, before anything changes; say how to take it over.

    :param engine: the Docker engine.
    :param endpoint_name: the endpoint's name.
    :param home: this process's ML_LIFECYCLE_HOME.
    :param action: what was asked (``deploy``, ``delete``), for the message.
    """
    owner = owner_of(engine, endpoint_name)
    if owner is None or owner == str(home):
        return
    raise EndpointOwned(
        f"Cannot {action} endpoint {endpoint_name}: on this Docker engine it belongs to ML_LIFECYCLE_HOME={owner} "
        f"(this process uses {home}). Work on it from there (export ML_LIFECYCLE_HOME={owner}, or source that "
        f"clone's scripts/env.sh), or take it over by deleting it there first: "
        f"ML_LIFECYCLE_HOME={owner} ml-lifecycle delete-endpoint {endpoint_name}"
    )
