"""Data capture on an EC2 endpoint host: the local endpoints' proxy in front of the model, its files uploaded.

The host runs what a local endpoint runs: the same proxy image and nginx configuration (mlc_capture.lua records each
sampled request after its response went out) listening on the port the load balancer calls, routing to the model
container on a loopback port of its own. Its files go to a spool; a thread uploads the sealed ones with the same
passes as a local endpoint's uploader (instance role credentials), and writes the counters to the revision's
staging (``hosts/<instance>/capture.json``), where the endpoint's description adds them up. A stop (the revision's
stop request, written before its instances end, or SIGTERM) stops nginx first, which seals what its workers held,
then makes the last pass and reports ``stopped``.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ml_lifecycle.compute.local.endpoints.capture_config import capture_setup_in, capture_stats_in
from ml_lifecycle.compute.local.endpoints.capture_upload import UPLOAD_INTERVAL_S, UploadTarget, upload_pass
from ml_lifecycle.compute.local.endpoints.proxy import EndpointProxy, ensure_proxy_image
from ml_lifecycle.compute.local.endpoints.proxy_config import ServingLimits
from ml_lifecycle.compute.local.engine.docker_engine import HOST_NETWORK, DockerEngine
from ml_lifecycle.core.specs import EndpointSpec
from ml_lifecycle.core.uris import ArtifactUri
from ml_lifecycle.stores.base import ArtifactStore

Sink = Callable[[str], None]
ALL_INTERFACES = "0.0.0.0"
LOOPBACK = "127.0.0.1"
REPORT_EVERY_S = 10.0


def loopback_port() -> int:
    """Return a free TCP port on 127.0.0.1 for the model container (the proxy holds the serving port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


class HostCapture:
    """One host's capturing proxy and uploader.

    :param engine: the instance's Docker engine.
    :param spec: the endpoint spec (its data_capture is set).
    :param job_name: the revision's job name (the proxy container is named after it).
    :param folder: the host's folder for the proxy (configurations, spool, counters), mounted into it.
    :param store_for: returns the store for a URI (the instance role's).
    :param stats_uri: where the host's counters are written (core.ec2.endpoint_hosts.host_capture_uri).
    """

    def __init__(
        self,
        engine: DockerEngine,
        spec: EndpointSpec,
        job_name: str,
        folder: Path,
        store_for: Callable[[ArtifactUri], ArtifactStore],
        stats_uri: ArtifactUri,
    ) -> None:
        setup = capture_setup_in(spec.data_capture, spec.endpoint_name, folder)
        if setup is None:
            raise ValueError(f"Endpoint {spec.endpoint_name} captures nothing: build a HostCapture only when it does")
        self.setup, self.engine, self.store_for, self.stats_uri = setup, engine, store_for, stats_uri
        self.job_name = job_name
        self.proxy = EndpointProxy(
            engine,
            spec.endpoint_name,
            ServingLimits(),
            LOOPBACK,
            folder / "conf",
            HOST_NETWORK,
            setup,
            bind_address=ALL_INTERFACES,
            container_name=f"mlc-ep-{job_name}-proxy",
            log_invocations=False,  # the load balancer counts the requests; nothing on the host reads a log
        )
        self._stopped = threading.Event()
        self._uploader: threading.Thread | None = None

    def start(self, port: int, model_port: int, container_labels: dict[str, str], sink: Sink) -> None:
        """Start the proxy on the serving port, route it to the model, and start uploading.

        :param port: the port the load balancer calls.
        :param model_port: the model container's loopback port.
        :param container_labels: the ownership labels the model container carries.
        :param sink: the agent's progress lines.
        """
        image = ensure_proxy_image(self.engine, sink)
        listening = self.proxy.start(image, container_labels, port)
        self.proxy.first_route(self.job_name, [f"{LOOPBACK}:{model_port}"], listening, container=self.proxy.started)
        self.report()  # a capturing host is known from the start: a delete waits for its last upload
        if self.setup.upload_uri is not None:
            self._uploader = threading.Thread(target=self._upload_until_stopped, name="capture-upload", daemon=True)
            self._uploader.start()
        sink(
            f"Data capture: the proxy on port {listening} records to {self.setup.upload_uri or self.setup.records_dir}"
        )

    def stop(self, sink: Sink) -> None:
        """Stop nginx (its workers write and seal what they hold), make the last pass and report the counters.

        :param sink: the agent's progress lines.
        """
        container = self.proxy.started
        if container is not None:
            self.engine.stop(container, self.proxy.limits.invocation_timeout_s)
            self.engine.remove(container)
        self._stopped.set()
        if self._uploader is not None:
            self._uploader.join()
        counters = self.report(stopped=True)
        sink(
            f"Data capture: {counters.get('capture_records', '0')} records written, {counters.get('capture_lost', '0')} lost"
        )

    def remove(self) -> None:
        """Remove the proxy container, if any (a host that cannot serve)."""
        self.engine.remove_by_name(self.proxy.name)

    def report(self, stopped: bool = False) -> dict[str, Any]:
        """Write the counters to the revision's staging and return them.

        :param stopped: whether this is the last report (the last upload made): the teardown waits for it.
        """
        counters: dict[str, Any] = {**capture_stats_in(self.setup.state_dir), "stopped": stopped}
        self.store_for(self.stats_uri).write_bytes(self.stats_uri, json.dumps(counters).encode())
        return counters

    def _upload_until_stopped(self) -> None:
        """Upload the sealed files every UPLOAD_INTERVAL_S, report every REPORT_EVERY_S; a last pass once stopped."""
        target = UploadTarget.of(self.setup.records_dir, str(self.setup.upload_uri), self.setup.state_dir)
        since_report_s = 0.0
        while not self._stopped.wait(UPLOAD_INTERVAL_S):
            _quietly(lambda: upload_pass(target, self.store_for))
            since_report_s += UPLOAD_INTERVAL_S
            if since_report_s >= REPORT_EVERY_S:
                since_report_s = 0.0
                _quietly(self.report)
        upload_pass(target, self.store_for, final=True)


def _quietly(work: Callable[[], Any]) -> None:
    """Run one pass; an error (a full disk, the staging bucket refusing) waits for the next pass, never ends the host.

    :param work: the pass.
    """
    try:
        work()
    except Exception as err:
        print(f"Data capture: {type(err).__name__}: {err}", flush=True)
