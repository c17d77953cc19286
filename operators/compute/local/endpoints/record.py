"""A local endpoint's record (``<home>/endpoints/<name>.json``): what it serves, where, and in which state."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ml_lifecycle.core.status import EndpointStatus
from ml_lifecycle.errors import EndpointBusy

# SageMaker's endpoint states (core.status.EndpointStatus), named here as its readers import them.
CREATING, UPDATING, IN_SERVICE, FAILED, DELETING = (
    EndpointStatus.CREATING,
    EndpointStatus.UPDATING,
    EndpointStatus.IN_SERVICE,
    EndpointStatus.FAILED,
    EndpointStatus.DELETING,
)

PROXY_DIR = "proxy"


@dataclass
class EndpointRecord:
    """What a local endpoint is serving now; the agent writes it, sensors and the CLI read it.

    :param endpoint_name: the endpoint's name.
    :param status: SageMaker's endpoint state: Creating, Updating, InService, Failed or Deleting.
    :param url: the stable base URL (the proxy); POST ``<url>/invocations``.
    :param urls: the URL of each serving container of the current revision (published on 127.0.0.1).
    :param revision: the deployment revision (changes on each deploy).
    :param image_uri: the image as given.
    :param image_digest: the image digest or id.
    :param model_uri: the model served.
    :param instance_count: the number of serving containers.
    :param updated_at: ISO-8601 UTC time of the last change.
    :param startup_s: seconds from container start until every /ping answered, for the current revision.
    :param owner: the Airflow identity labels of the last deploy.
    :param port: the proxy's host port; it stays the same for the endpoint's life.
    :param network: the endpoint's private network.
    :param proxy: the proxy container's name.
    :param max_payload_mb: the request body limit the proxy enforces.
    :param failure_reason: why the last deploy failed ("" when it did not).
    :param upstreams: ``address:port`` of each serving container on the network, as the proxy routes to them.
    """

    endpoint_name: str
    status: str
    url: str
    urls: list[str]
    revision: str
    image_uri: str
    image_digest: str
    model_uri: str
    instance_count: int
    updated_at: str
    startup_s: float
    owner: dict[str, str]
    port: int = 0
    network: str = ""
    proxy: str = ""
    max_payload_mb: int = 6
    failure_reason: str = ""
    upstreams: list[str] = field(default_factory=list)


def endpoints_dir(home: Path) -> Path:
    """Return the folder holding local endpoint records and models.

    :param home: ML_LIFECYCLE_HOME.
    """
    return home / "endpoints"


def proxy_dir(home: Path, name: str) -> Path:
    """Return the folder of an endpoint's proxy files (its nginx configurations, its capture counters).

    :param home: ML_LIFECYCLE_HOME.
    :param name: the endpoint name.
    """
    return endpoints_dir(home) / name / PROXY_DIR


def read_endpoint(home: Path, name: str) -> EndpointRecord | None:
    """Read a local endpoint's record, or None when there is no such endpoint.

    :param home: ML_LIFECYCLE_HOME.
    :param name: the endpoint name.
    """
    path = endpoints_dir(home) / f"{name}.json"
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    known = {f.name for f in fields(EndpointRecord)}
    return EndpointRecord(**{k: v for k, v in document.items() if k in known})


def list_endpoints(home: Path) -> list[str]:
    """Return the names of the local endpoints that have a record, sorted.

    :param home: ML_LIFECYCLE_HOME.
    """
    folder = endpoints_dir(home)
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.json") if not p.name.startswith("."))


def save_endpoint(home: Path, record: EndpointRecord) -> None:
    """Write an endpoint's record atomically: a reader sees the old record or the new one.

    :param home: ML_LIFECYCLE_HOME.
    :param record: the record.
    """
    folder = endpoints_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    temp = folder / f".tmp-{record.endpoint_name}-{os.getpid()}.json"
    temp.write_text(json.dumps(asdict(record), indent=1, sort_keys=True))
    os.replace(temp, folder / f"{record.endpoint_name}.json")


def remove_endpoint_record(home: Path, name: str) -> None:
    """Remove an endpoint's record.

    :param home: ML_LIFECYCLE_HOME.
    :param name: the endpoint name.
    """
    (endpoints_dir(home) / f"{name}.json").unlink(missing_ok=True)


@contextlib.contextmanager
def endpoint_lock(home: Path, name: str, holder: Mapping[str, str] | None = None) -> Iterator[None]:
    """Hold the endpoint's lock: one deploy or delete of an endpoint at a time, across processes.

    A deploy (holder given) of another DAG run while one holds the lock fails with EndpointBusy, naming the holder, so
    two runs never both report success for different revisions; a retry of the holder's own run, and the CLI (no
    holder), wait for it. The kernel drops the lock of a process that dies.

    :param home: ML_LIFECYCLE_HOME.
    :param name: the endpoint name.
    :param holder: the Airflow identity labels of the deploy (dag and run ids), or None to wait whoever holds it.
    """
    folder = endpoints_dir(home) / ".locks"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{name}.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            current = _read_holder(handle)
            if holder is not None and not _same_run(current, holder):
                raise EndpointBusy(
                    f"Endpoint {name} is being deployed or deleted by {_describe(current)}; this deploy would make "
                    "one of the two report a revision that no longer serves. Retry once that task has finished, or "
                    "give each run its own endpoint name"
                ) from None
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps({**dict(holder or {}), "pid": os.getpid()}))
            handle.flush()
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


RUN_KEYS = ("ml-lifecycle.dag-id", "ml-lifecycle.run-id")


def _read_holder(handle: Any) -> dict[str, Any]:
    """Read who holds the lock, as they wrote it (empty when they wrote nothing yet).

    :param handle: the open lock file.
    """
    handle.seek(0)
    try:
        return dict(json.loads(handle.read() or "{}"))
    except ValueError:
        return {}


def _same_run(current: Mapping[str, Any], holder: Mapping[str, str]) -> bool:
    """Say whether the lock's holder is a task of the same DAG run (a retry).

    :param current: the holder as written in the lock file.
    :param holder: who asks.
    """
    return all(current.get(key) and current.get(key) == holder.get(key) for key in RUN_KEYS)


def _describe(current: Mapping[str, Any]) -> str:
    """Name the lock's holder for a message.

    :param current: the holder as written in the lock file.
    """
    dag, run = current.get(RUN_KEYS[0]), current.get(RUN_KEYS[1])
    who = f"DAG run {dag}/{run}" if dag and run else "another process"
    return who + (f" (pid {current['pid']})" if current.get("pid") else "")
