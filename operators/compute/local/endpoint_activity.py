"""What local endpoints are doing, read from the things themselves: their containers and their proxy's request log."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ml_lifecycle.compute.local.endpoints.proxy import ROLE, ROLE_PROXY
from ml_lifecycle.compute.local.endpoints.proxy_config import INVOCATION_LOG, ROUTER_PID_FILE
from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine
from ml_lifecycle.compute.local.reaper import created_epoch_s, resource_labels
from ml_lifecycle.core import labels
from ml_lifecycle.core.endpoint_cost import FleetInterval
from ml_lifecycle.core.endpoint_idleness import EndpointActivity
from ml_lifecycle.errors import EngineError

log = logging.getLogger(__name__)

ROTATED_LOG = f"{INVOCATION_LOG}.1"
# A log above this is moved aside when read and the router reopens a new one (nginx's own rotation, USR1): 15 bytes a
# request, so the log stays under about twice this between two reads.
ROTATE_ABOVE_BYTES = 4 * 1024 * 1024
# For each of the rotated and the current log that exists: its name, when it was last written (or created, while
# empty), and its last line (the last request it holds).
_READ_LOGS = (
    f'for f in {ROTATED_LOG} {INVOCATION_LOG}; do [ -e "$f" ] && echo "$f $(date -r "$f" +%s.%N) $(tail -n 1 "$f")"; '
    "done; true"
)
_ROTATE = f'mv -f {INVOCATION_LOG} {ROTATED_LOG} && kill -USR1 "$(cat {ROUTER_PID_FILE})"'


def local_activity(
    engine: DockerEngine, match_labels: Mapping[str, str], rotate_above_bytes: int = ROTATE_ABOVE_BYTES
) -> list[EndpointActivity]:
    """Return every local endpoint's size, age and last request, as its containers and its proxy say.

    :param engine: the Docker engine.
    :param match_labels: only endpoints whose containers carry these labels too.
    :param rotate_above_bytes: a proxy's invocation log larger than this is rotated once read.
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
        found.append(_activity(engine, name, proxies[0], models, rotate_above_bytes))
    return found


def _activity(
    engine: DockerEngine, name: str, proxy: Any, models: list[Any], rotate_above_bytes: int
) -> EndpointActivity:
    """Return one endpoint's activity: its newest revision's containers and its proxy's request log.

    :param engine: the Docker engine.
    :param name: the endpoint's name.
    :param proxy: its proxy container.
    :param models: its serving containers (of every revision still there).
    :param rotate_above_bytes: rotate the proxy's invocation log once read when it is larger.
    """
    newest = max(models, key=created_epoch_s)
    revision = resource_labels(newest).get(labels.REVISION)
    current = [c for c in models if resource_labels(c).get(labels.REVISION) == revision]
    found = resource_labels(newest)
    limit = found.get(labels.IDLE_DELETE_AFTER_H)
    counted_since, last_request = _request_log(engine, proxy, rotate_above_bytes)
    return EndpointActivity(
        endpoint_name=name,
        instance_type=found.get(labels.INSTANCE_TYPE, ""),
        instance_count=sum(1 for c in current if c.status == "running"),
        created_epoch_s=created_epoch_s(proxy),
        serving_since_epoch_s=min(created_epoch_s(c) for c in current),
        counted_since_epoch_s=counted_since,
        last_request_epoch_s=last_request,
        idle_delete_after_h=float(limit) if limit else None,
        # Each running serving container since it was created (an update's two revisions overlap for a moment).
        fleet=tuple(
            FleetInterval(created_epoch_s(c), None, 1, resource_labels(c).get(labels.INSTANCE_TYPE, ""))
            for c in models
            if c.status == "running"
        ),
    )


def _request_log(engine: DockerEngine, proxy: Any, rotate_above_bytes: int) -> tuple[float | None, float | None]:
    """Return (since when the proxy counts requests, its last request), or (None, None) when it keeps no log.

    :param engine: the Docker engine.
    :param proxy: the proxy container.
    :param rotate_above_bytes: rotate the log once read when it is larger (the rotated one keeps the last request).
    """
    if proxy.status != "running":
        return None, None
    try:
        code, output = engine.exec(proxy, ["sh", "-c", _READ_LOGS])
        found = [line.split() for line in output.splitlines() if line.startswith(INVOCATION_LOG)]
        if not found:
            # No log: a proxy whose router started before requests were logged (redeploy the endpoint to start one).
            return None, None
        code, size = engine.exec(proxy, ["stat", "-c", "%s", INVOCATION_LOG])
        if code == 0 and size.strip().isdigit() and int(size) > rotate_above_bytes:
            code, output = engine.exec(proxy, ["sh", "-c", _ROTATE])
            if code != 0:
                log.warning("Could not rotate the request log of %s (%d): %s", proxy.name, code, output.strip())
    except EngineError as err:
        log.warning("Cannot read the request log of %s: %s", proxy.name, err)
        return None, None
    lasts = [float(parts[2]) for parts in found if len(parts) > 2]
    return min(float(parts[1]) for parts in found), max(lasts) if lasts else None
