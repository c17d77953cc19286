"""A local endpoint's record (``<home>/endpoints/<name>.json``): what it serves, where, and in which state."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ml_lifecycle.core.status import EndpointStatus

# SageMaker's endpoint states (core.status.EndpointStatus), named here as its readers import them.
CREATING, UPDATING, IN_SERVICE, FAILED, DELETING = (
    EndpointStatus.CREATING,
    EndpointStatus.UPDATING,
    EndpointStatus.IN_SERVICE,
    EndpointStatus.FAILED,
    EndpointStatus.DELETING,
)


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
def endpoint_lock(home: Path, name: str) -> Iterator[None]:
    """Hold the endpoint's lock: deploys and deletes of one endpoint run one at a time, across processes.

    :param home: ML_LIFECYCLE_HOME.
    :param name: the endpoint name.
    """
    folder = endpoints_dir(home) / ".locks"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{name}.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
