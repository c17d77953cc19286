"""Local endpoints behind the endpoint interface: deploy, describe (checked against the proxy's URL), delete."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ml_lifecycle.compute.endpoint_interface import EndpointBackend, EndpointView, LogSink
from ml_lifecycle.compute.local.endpoint_activity import local_activity
from ml_lifecycle.compute.local.endpoints.capture_config import capture_stats
from ml_lifecycle.compute.local.endpoints.endpoints import LocalEndpoints
from ml_lifecycle.compute.local.endpoints.health import Health, endpoint_health
from ml_lifecycle.compute.local.endpoints.proxy_config import ServingLimits
from ml_lifecycle.compute.local.endpoints.record import EndpointRecord, read_endpoint
from ml_lifecycle.compute.local.serving.http_client import ContainerClient
from ml_lifecycle.core import labels
from ml_lifecycle.core.endpoint_idleness import EndpointActivity
from ml_lifecycle.core.specs import EndpointSpec
from ml_lifecycle.core.status import EndpointStatus


def view_of(record: EndpointRecord, serving_problem: str = "", health: Health | None = None) -> EndpointView:
    """Return a local endpoint's record as the endpoint interface reports it, corrected by what the engine says.

    :param record: the endpoint's record.
    :param serving_problem: why it cannot serve now ("" when it serves).
    :param health: the engine's word on its containers, when asked.
    """
    failure = health.failure_reason if health is not None and health.failure_reason else record.failure_reason
    return EndpointView(
        endpoint_name=record.endpoint_name,
        status=health.status if health is not None else record.status,
        url=record.url,
        revision=record.revision,
        model_uri=record.model_uri,
        image_uri=record.image_uri,
        image_digest=record.image_digest,
        failure_reason=failure,
        serving_problem=serving_problem or (health.serving_problem if health is not None else ""),
    )


class LocalEndpointBackend(EndpointBackend):
    """Endpoints on the Docker engine: an nginx proxy at a fixed URL in front of the serving containers.

    :param endpoints: the endpoint manager.
    :param home: ML_LIFECYCLE_HOME, where the endpoints' records are.
    :param limits: the serving limits the proxy enforces.
    :param ping_timeout_s: how long GET /ping through the URL may take when an endpoint is described.
    """

    records_data_capture = True  # the proxy's router records it (capture_config)

    def __init__(self, endpoints: LocalEndpoints, home: Path, limits: ServingLimits, ping_timeout_s: float) -> None:
        self.manager = endpoints
        self.engine = endpoints.engine
        self.home = home
        self.limits = limits
        self.ping_timeout_s = ping_timeout_s

    def deploy(self, spec: EndpointSpec, owner: Mapping[str, str], sink: LogSink) -> EndpointView:
        """Start the new revision, switch the proxy to it once every /ping answers, stop the old one.

        :param spec: the endpoint spec.
        :param owner: the Airflow identity labels.
        :param sink: the task log.
        """
        return view_of(self.manager.deploy(spec, dict(owner), sink, self.limits))

    def describe(self, endpoint_name: str) -> EndpointView | None:
        """Return the endpoint as it is, with what its data capture wrote and lost (``capture_*`` details).

        :param endpoint_name: the endpoint's name.
        """
        view = self._describe(endpoint_name)
        stats = capture_stats(self.home, endpoint_name) if view is not None else {}
        return dataclasses.replace(view, details={**view.details, **stats}) if view is not None and stats else view

    def _describe(self, endpoint_name: str) -> EndpointView | None:
        """Return the endpoint as it is: its record, what the engine says of its containers, and GET /ping.

        :param endpoint_name: the endpoint's name.
        """
        record = read_endpoint(self.home, endpoint_name)
        if record is None:
            return None
        if record.status != EndpointStatus.IN_SERVICE:
            return view_of(record)
        health = endpoint_health(self.engine, record)
        if health.status != EndpointStatus.IN_SERVICE or health.serving_problem:
            return view_of(record, health=health)
        address = urlsplit(record.url)
        client = ContainerClient(address.hostname or "", address.port or 80, self.ping_timeout_s)
        if client.ping(self.ping_timeout_s):
            return view_of(record, health=health)
        return view_of(record, f"GET {record.url}/ping does not answer 200 within {self.ping_timeout_s:g} s", health)

    def delete(self, endpoint_name: str, owner: Mapping[str, str], sink: LogSink) -> dict[str, int]:
        """Stop and remove the endpoint's proxy, containers, network, models and record.

        :param endpoint_name: the endpoint's name.
        :param owner: the Airflow identity labels (unused: local deletes wait for a deploy's lock).
        :param sink: the task log.
        """
        removed = self.manager.delete(endpoint_name)
        sink(f"Endpoint {endpoint_name}: {removed} container(s) removed")
        return {"containers_removed": removed}

    def activity(self, match_labels: Mapping[str, str]) -> list[EndpointActivity]:
        """Return each local endpoint's size, age and last POST /invocations, as its containers and proxy say.

        :param match_labels: only endpoints whose containers carry these labels too.
        """
        return local_activity(self.engine, match_labels)

    def logs(self, endpoint_name: str) -> dict[str, list[str]]:
        """Return what each serving container of the endpoint logged (the proxy's own log is not the model's).

        :param endpoint_name: the endpoint's name.
        """
        containers = self.engine.containers({labels.ENDPOINT: endpoint_name})
        return {
            str(c.name): c.logs().decode(errors="replace").splitlines()
            for c in containers
            if labels.REVISION in (c.labels or {})
        }


def serving_limits(options: Mapping[str, Any]) -> ServingLimits:
    """Return the serving limits an operator's options ask for (max_payload_mb), else SageMaker's.

    :param options: the operator's backend options.
    """
    from ml_lifecycle.compute.local.endpoints.proxy_config import check_max_payload_mb

    value = options.get("max_payload_mb")
    return ServingLimits(max_payload_mb=check_max_payload_mb(value)) if value is not None else ServingLimits()
