"""What local endpoints are doing, read from the things themselves: their containers and their proxy's request log."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ml_lifecycle.compute.local.endpoints.proxy import ROLE, ROLE_PROXY
from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine
from ml_lifecycle.compute.local.reaper import created_epoch_s, resource_labels
from ml_lifecycle.core import labels
from ml_lifecycle.core.endpoint_idleness import EndpointActivity
from ml_lifecycle.errors import EngineError

log = logging.getLogger(__name__)

# The router nginx logs the time of each POST /invocations here, inside the proxy container (one line of $msec per
# request; docker/endpoint-proxy/nginx.conf.j2 names it too, and a test keeps the two equal). GET /ping is not counted.
INVOCATION_LOG = "/tmp/mlc-invocations.log"
# Prints when the log was last written (or created, while empty), then its last line: the last request.
_READ_LOG = f"date -r {INVOCATION_LOG} +%s.%N && tail -n 1 {INVOCATION_LOG}"


def local_activity(engine: DockerEngine, match_labels: Mapping[str, str]) -> list[EndpointActivity]:
    """Return every local endpoint's size, age and last request, as its containers and its proxy say.

    :param engine: the Docker engine.
    :param match_labels: only endpoints whose containers carry these labels too.
    """
    wanted = {labels.MANAGED: "true", labels.KIND: "endpoint", **match_labels}
    by_endpoint: dict[str, list[Any]] = {}
    for container in engine.containers(wanted):
        name = resource_labels(container).get(labels.ENDPOINT)
        if name:
            by_endpoint.setdefault(name, []).append(container)
    found = []
    for name, containers in sorted(by_endpoint.items()):
        proxies = [c for c in containers if resource_labels(c).get(ROLE) == ROLE_PROXY]
        models = [c for c in containers if labels.REVISION in resource_labels(c)]
        if not proxies or not models:
            continue  # half made or half deleted: nothing serves
        found.append(_activity(engine, name, proxies[0], models))
    return found


def _activity(engine: DockerEngine, name: str, proxy: Any, models: list[Any]) -> EndpointActivity:
    """Return one endpoint's activity: its newest revision's containers and its proxy's request log.

    :param engine: the Docker engine.
    :param name: the endpoint's name.
    :param proxy: its proxy container.
    :param models: its serving containers (of every revision still there).
    """
    newest = max(models, key=created_epoch_s)
    revision = resource_labels(newest).get(labels.REVISION)
    current = [c for c in models if resource_labels(c).get(labels.REVISION) == revision]
    found = resource_labels(newest)
    limit = found.get(labels.IDLE_DELETE_AFTER_H)
    counted_since, last_request = _request_log(engine, proxy)
    return EndpointActivity(
        endpoint_name=name,
        instance_type=found.get(labels.INSTANCE_TYPE, ""),
        instance_count=sum(1 for c in current if c.status == "running"),
        created_epoch_s=created_epoch_s(proxy),
        serving_since_epoch_s=min(created_epoch_s(c) for c in current),
        counted_since_epoch_s=counted_since,
        last_request_epoch_s=last_request,
        idle_delete_after_h=float(limit) if limit else None,
    )


def _request_log(engine: DockerEngine, proxy: Any) -> tuple[float | None, float | None]:
    """Return (since when the proxy counts requests, its last request), or (None, None) when it keeps no log.

    :param engine: the Docker engine.
    :param proxy: the proxy container.
    """
    if proxy.status != "running":
        return None, None
    try:
        code, output = engine.exec(proxy, ["sh", "-c", _READ_LOG])
    except EngineError as err:
        log.warning("Cannot read the request log of %s: %s", proxy.name, err)
        return None, None
    lines = output.split()
    if code != 0 or not lines:
        # No log: a proxy whose router started before requests were logged (redeploy the endpoint to start one).
        return None, None
    return float(lines[0]), float(lines[1]) if len(lines) > 1 else None
