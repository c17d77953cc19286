"""Local endpoints: serving containers on the Docker engine, replaced by a new revision on redeploy."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from ml_lifecycle.agent.clock import utc_now_iso
from ml_lifecycle.agent.host_watch import LogSink
from ml_lifecycle.agent.model_files import fetch_model
from ml_lifecycle.agent.records import StoreFor
from ml_lifecycle.agent.serving import start_serving, wait_until_healthy
from ml_lifecycle.compute import labels
from ml_lifecycle.compute.docker_engine import DockerEngine
from ml_lifecycle.core.contract import STOP_GRACE_SERVING_S, host_names
from ml_lifecycle.core.specs import EndpointSpec

log = logging.getLogger(__name__)


@dataclass
class EndpointRecord:
    """What a local endpoint is serving now.

    :param endpoint_name: the endpoint's name.
    :param status: ``InService`` or ``Deleted``.
    :param url: the base URL; POST ``<url>/invocations``.
    :param urls: the URL of each serving container.
    :param revision: the deployment revision (changes on each deploy).
    :param image_uri: the image as given.
    :param image_digest: the image digest or id.
    :param model_uri: the model served.
    :param instance_count: the number of containers.
    :param updated_at: ISO-8601 UTC time of the last deploy.
    :param startup_s: seconds from container start until /ping answered.
    :param owner: the Airflow identity labels.
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
    if not path.is_file():
        return None
    return EndpointRecord(**json.loads(path.read_text()))


class LocalEndpoints:
    """Deploys and deletes endpoints on the local Docker engine."""

    def __init__(self, engine: DockerEngine, store_for: StoreFor, home: Path, serving_host: str) -> None:
        """Hold the engine, stores and state folder.

        :param engine: the Docker engine.
        :param store_for: returns the store for a URI.
        :param home: ML_LIFECYCLE_HOME (records and unpacked models live below it).
        :param serving_host: the address published ports are reached at.
        """
        self.engine = engine
        self.store_for = store_for
        self.home = home
        self.serving_host = serving_host

    def deploy(self, spec: EndpointSpec, owner: dict[str, str], sink: LogSink = log.info) -> EndpointRecord:
        """Start the new revision, wait until every container answers /ping, then retire the old revision.

        :param spec: the endpoint spec.
        :param owner: the Airflow identity labels.
        :param sink: receives progress lines.
        """
        # Unique even for two deploys in the same second: the old revision's containers must not be replaced early.
        revision = time.strftime("%Y%m%d%H%M%S") + "-" + uuid.uuid4().hex[:6]
        base = endpoints_dir(self.home)
        revision_dir = base / spec.endpoint_name / revision
        image = self.engine.ensure_image(spec.image_uri)
        model_dir = fetch_model(spec.model_uri, str(revision_dir), self.store_for)
        ep_labels = labels.owned("endpoint", spec.endpoint_name, owner, endpoint=spec.endpoint_name, revision=revision)
        servers = []
        try:
            for host in host_names(spec.instance_count):
                servers.append(
                    start_serving(
                        self.engine,
                        name=f"mlc-ep-{spec.endpoint_name}-{revision}-{host}",
                        image=image.image_id,
                        model_dir=model_dir,
                        environment=dict(spec.environment),
                        labels={**ep_labels, labels.HOST: host},
                        host=self.serving_host,
                        request_timeout_s=60,
                    )
                )
            startup_s = max(wait_until_healthy(self.engine, s, spec.startup_timeout_s) for s in servers)
        except BaseException:
            for server in servers:
                self.engine.remove(server.container)
            shutil.rmtree(revision_dir, ignore_errors=True)
            raise
        record = EndpointRecord(
            endpoint_name=spec.endpoint_name,
            status="InService",
            url=servers[0].url,
            urls=[s.url for s in servers],
            revision=revision,
            image_uri=spec.image_uri,
            image_digest=image.digest or image.image_id,
            model_uri=spec.model_uri,
            instance_count=spec.instance_count,
            updated_at=utc_now_iso(),
            startup_s=round(startup_s, 3),
            owner=owner,
        )
        self._save(record)
        sink(
            f"Endpoint {spec.endpoint_name} InService at {record.url} (revision {revision}, ready in {startup_s:.2f} s)"
        )
        self._retire(spec.endpoint_name, keep_revision=revision)
        return record

    def delete(self, name: str) -> int:
        """Stop and remove every container of an endpoint, its models and its record; return containers removed.

        :param name: the endpoint name.
        """
        removed = self._retire(name, keep_revision=None)
        shutil.rmtree(endpoints_dir(self.home) / name, ignore_errors=True)
        (endpoints_dir(self.home) / f"{name}.json").unlink(missing_ok=True)
        return removed

    def _retire(self, name: str, keep_revision: str | None) -> int:
        """Stop (with the serving grace) and remove an endpoint's containers of other revisions, and their models.

        :param name: the endpoint name.
        :param keep_revision: the revision to keep, or None to remove all.
        """
        removed = 0
        for container in self.engine.containers({labels.ENDPOINT: name}):
            revision = container.labels.get(labels.REVISION)
            if revision == keep_revision:
                continue
            self.engine.stop(container, STOP_GRACE_SERVING_S)
            self.engine.remove(container)
            removed += 1
        folder = endpoints_dir(self.home) / name
        if folder.is_dir():
            for child in folder.iterdir():
                if child.name != keep_revision:
                    shutil.rmtree(child, ignore_errors=True)
        return removed

    def _save(self, record: EndpointRecord) -> None:
        """Write an endpoint's record atomically.

        :param record: the record.
        """
        folder = endpoints_dir(self.home)
        folder.mkdir(parents=True, exist_ok=True)
        temp = folder / f".tmp-{record.endpoint_name}.json"
        temp.write_text(json.dumps(asdict(record), indent=1, sort_keys=True))
        os.replace(temp, folder / f"{record.endpoint_name}.json")
