"""Local endpoints: an nginx proxy at a fixed URL in front of serving containers, updated blue/green without downtime."""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ml_lifecycle import settings
from ml_lifecycle.compute.local.container_sizing import container_resources, plan_gpus
from ml_lifecycle.compute.local.endpoints.capture_config import CaptureSetup, capture_setup
from ml_lifecycle.compute.local.endpoints.capture_uploader import ensure_uploader, last_upload
from ml_lifecycle.compute.local.endpoints.ownership import HOME, claim
from ml_lifecycle.compute.local.endpoints.proxy import ROLE, ROLE_PROXY, EndpointProxy, ensure_proxy_image
from ml_lifecycle.compute.local.endpoints.proxy_config import INVOCATION_TIMEOUT_S, ServingLimits
from ml_lifecycle.compute.local.endpoints.record import (
    CREATING,
    DELETING,
    FAILED,
    IN_SERVICE,
    PROXY_DIR,
    UPDATING,
    EndpointRecord,
    endpoint_lock,
    endpoints_dir,
    list_endpoints,
    proxy_dir,
    read_endpoint,
    remove_endpoint_record,
    save_endpoint,
)
from ml_lifecycle.compute.local.endpoints.revision_fleet import retire, start_revision, upstreams, wait_healthy
from ml_lifecycle.compute.local.endpoints.role_credentials import serve_role_credentials
from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine
from ml_lifecycle.compute.local.serving.model_files import fetch_model
from ml_lifecycle.compute.local.training.host_watch import LogSink
from ml_lifecycle.compute.records import StoreFor
from ml_lifecycle.core import labels
from ml_lifecycle.core.clock import utc_now_iso
from ml_lifecycle.core.specs import EndpointSpec
from ml_lifecycle.registries.pull_login import PullLogins
from ml_lifecycle.secret_sources.values import resolve_secrets

log = logging.getLogger(__name__)

ROLE_AGENT_GRACE_S = 300.0  # beyond the startup timeout: the image pull and the model fetch come first

# Kept importable from here: the CLI and older callers read records through this module.
__all__ = ["EndpointRecord", "LocalEndpoints", "endpoints_dir", "list_endpoints", "read_endpoint"]


def new_revision() -> str:
    """Return a revision id: sortable by time, unique even for two deploys in the same second."""
    return time.strftime("%Y%m%d%H%M%S") + "-" + uuid.uuid4().hex[:6]


class LocalEndpoints:
    """Deploys, updates and deletes endpoints on the local Docker engine."""

    def __init__(
        self,
        engine: DockerEngine,
        store_for: StoreFor,
        home: Path,
        serving_host: str,
        aws_conn_id: str | None = "aws_default",
        logins: PullLogins | None = None,
    ) -> None:
        """Hold the engine, stores and state folder.

        :param engine: the Docker engine.
        :param store_for: returns the store for a URI.
        :param home: ML_LIFECYCLE_HOME (records and unpacked models live below it).
        :param serving_host: the address published ports are reached at.
        :param aws_conn_id: the Airflow AWS connection that reads secrets and uploads capture files to S3.
        :param logins: where a pull of a missing image gets its login; None pulls anonymously.
        """
        self.logins = logins
        self.engine = engine
        self.store_for = store_for
        self.home = home
        self.serving_host = serving_host
        self.aws_conn_id = aws_conn_id

    def deploy(
        self,
        spec: EndpointSpec,
        owner: dict[str, str],
        sink: LogSink = log.info,
        limits: ServingLimits | None = None,
    ) -> EndpointRecord:
        """Start the new revision, wait for every /ping, switch the proxy to it, then stop the old revision.

        The endpoint keeps its URL. A failed update leaves the old revision serving (InService, with the reason);
        a failed creation leaves nothing running and a Failed record.

        :param spec: the endpoint spec.
        :param owner: the Airflow identity labels.
        :param sink: receives progress lines.
        :param limits: the serving limits; default SageMaker's (6 MB, 60 s).
        """
        claim(self.engine, spec.endpoint_name, self.home, "deploy")
        with endpoint_lock(self.home, spec.endpoint_name, owner):
            return self._deploy(spec, owner, sink, limits or ServingLimits())

    def _deploy(
        self, spec: EndpointSpec, owner: dict[str, str], sink: LogSink, limits: ServingLimits
    ) -> EndpointRecord:
        """Deploy while holding the endpoint's lock (see deploy).

        :param spec: the endpoint spec.
        :param owner: the Airflow identity labels.
        :param sink: receives progress lines.
        :param limits: the serving limits.
        """
        name = spec.endpoint_name
        secret_environment = resolve_secrets(spec.secrets, self.aws_conn_id)  # before anything starts
        # Where nginx is to listen is read before anything starts: a wrong ML_LIFECYCLE_PROXY_NETWORK stops here.
        capture = capture_setup(spec.data_capture, name, self.home)
        proxy = self._proxy(name, limits, settings.proxy_network(), capture)
        old = read_endpoint(self.home, name)
        live = old if old is not None and old.status in (IN_SERVICE, UPDATING) and old.port and old.upstreams else None
        revision = new_revision()
        revision_dir = endpoints_dir(self.home) / name / revision
        grace_s = spec.startup_timeout_s + ROLE_AGENT_GRACE_S
        # A role that cannot be assumed fails here, before the endpoint's status changes (its agent ends itself
        # once it sees no container of the revision, whatever happens next).
        role = serve_role_credentials(spec.role_arn, name, revision, revision_dir, self.aws_conn_id, grace_s, sink)
        self._set_status(old, UPDATING if live else CREATING, name, owner)
        ep_labels = {**labels.owned("endpoint", name, owner, endpoint=name), HOME: str(self.home)}
        servers = []
        routed = False
        proxy_started: Future[tuple[int, bool]] | None = None
        try:
            # The network is made while the images are looked up and the model unpacked; a proxy that must be
            # started starts meanwhile (on the host's network it needs no other), else beside the models (it joins
            # theirs). It waits on standby until the models answer.
            with ThreadPoolExecutor(max_workers=2) as pool:
                network = pool.submit(proxy.ensure_network, _network_labels(name, owner))
                running = proxy.running()
                proxy_image = ensure_proxy_image(self.engine, sink)
                if proxy.on_host:
                    proxy_started = pool.submit(self._ensure_proxy, proxy, running, proxy_image, ep_labels, old)
                image = self.engine.ensure_image(spec.image_uri, self.logins)
                gpus = plan_gpus(self.engine, image.image_id, spec.instance_type, spec.gpus, spec.instance_count, sink)
                if live and any(g.wanted for g in gpus):
                    sink(
                        "During this update the new revision's containers share the GPUs of the serving ones until "
                        "those are retired (SageMaker would use new instances): both models must fit in GPU memory"
                    )
                model_dir = fetch_model(spec.model_uri, str(revision_dir), self.store_for)
                network.result()
                if proxy_started is None:
                    proxy_started = pool.submit(self._ensure_proxy, proxy, running, proxy_image, ep_labels, old)
                servers = start_revision(
                    self.engine,
                    endpoint_name=name,
                    revision=revision,
                    image=image.image_id,
                    model_dir=model_dir,
                    environment={**role, **spec.environment, **secret_environment},
                    revision_labels={**ep_labels, labels.REVISION: revision},
                    network=proxy.network,
                    serving_host=self.serving_host,
                    request_timeout_s=INVOCATION_TIMEOUT_S,
                    resources=container_resources(
                        self.engine, spec.instance_type, gpus, spec.shm_size_bytes, limit_to_instance=False
                    ),
                )
                targets = upstreams(self.engine, servers, proxy.network)
                startup_s = wait_healthy(self.engine, servers, spec.startup_timeout_s)
                port, standby = proxy_started.result()
            routed = True
            # A proxy on standby runs no nginx and holds no client connection: one SIGHUP starts it on the revision.
            switch_s = (
                proxy.first_route(revision, targets, port, container=proxy.started)
                if standby
                else proxy.route(revision, targets, port, container=running)
            )
        except BaseException as err:
            self._undo(proxy, live, routed, _standby_port(proxy_started), servers, revision_dir, name, owner, err)
            raise
        record = EndpointRecord(
            endpoint_name=name,
            status=IN_SERVICE,
            url=f"http://{self.serving_host}:{port}",
            urls=[s.url for s in servers],
            revision=revision,
            image_uri=spec.image_uri,
            image_digest=image.digest or image.image_id,
            model_uri=spec.model_uri,
            instance_count=spec.instance_count,
            updated_at=utc_now_iso(),
            startup_s=round(startup_s, 3),
            owner=owner,
            port=port,
            network=proxy.network,
            proxy=proxy.name,
            max_payload_mb=limits.max_payload_mb,
            upstreams=targets,
        )
        save_endpoint(self.home, record)
        ensure_uploader(capture, name, self.aws_conn_id, sink)
        sink(
            f"Endpoint {name} InService at {record.url}: revision {revision}, {spec.instance_count} container(s) "
            f"answered /ping in {startup_s:.2f} s, proxy switched in {switch_s:.2f} s"
        )
        retired = self._retire(name, keep_revision=revision) if old is not None else 0
        if retired:
            sink(f"Endpoint {name}: stopped {retired} container(s) of the previous revision")
        return record

    def delete(self, name: str) -> int:
        """Stop and remove an endpoint's proxy, containers, network, models and record; return containers removed.

        :param name: the endpoint name.
        """
        claim(self.engine, name, self.home, "delete")
        with endpoint_lock(self.home, name):
            record = read_endpoint(self.home, name)
            if record is not None:
                self._set_status(record, DELETING, name, record.owner)
            proxy = self._proxy(name, ServingLimits())
            # The proxy goes first: nginx finishes the requests it holds, and no new one reaches the models.
            removed = proxy.remove_container()
            last_upload(self.home, name)  # the stopped proxy sealed its last capture files
            removed += self._retire(name, keep_revision=None)
            self.engine.remove_network(proxy.network)
            shutil.rmtree(endpoints_dir(self.home) / name, ignore_errors=True)
            remove_endpoint_record(self.home, name)
            return removed

    def _proxy(
        self, name: str, limits: ServingLimits, network_mode: str | None = None, capture: CaptureSetup | None = None
    ) -> EndpointProxy:
        """Return the endpoint's proxy; its nginx.conf lives in the endpoint's folder.

        :param name: the endpoint name.
        :param limits: the serving limits.
        :param network_mode: ``host`` or ``bridge``; None reads the setting when the proxy starts.
        :param capture: the endpoint's data capture, or None.
        """
        folder = proxy_dir(self.home, name)
        return EndpointProxy(self.engine, name, limits, self.serving_host, folder, network_mode, capture)

    def _ensure_proxy(
        self,
        proxy: EndpointProxy,
        running: Any | None,
        image: str,
        ep_labels: dict[str, str],
        old: EndpointRecord | None,
    ) -> tuple[int, bool]:
        """Return the proxy's port, and whether it was started on standby (no model routed yet).

        A proxy that runs is left alone (the caller switches it), wherever it runs. One that must be started (a new
        endpoint, or one whose proxy has gone) takes the endpoint's port on standby: nobody knows a new endpoint's
        URL before the deploy returns, and an endpoint whose proxy has gone answers nothing until a revision is
        routed. A proxy of an older layout is replaced so (the endpoint does not answer for about a second).

        :param proxy: the endpoint's proxy.
        :param running: the proxy container when it runs, else None.
        :param image: the proxy image.
        :param ep_labels: ownership labels.
        :param old: the endpoint's record before this deploy, or None.
        """
        if running is not None and proxy.is_current(running):
            return proxy.port_of(running), False
        if running is not None:
            log.warning("Endpoint %s: its proxy predates this ml_lifecycle version; replacing it", proxy.endpoint_name)
            proxy.remove_container()
        return proxy.start(image, ep_labels, old.port if old is not None and old.port else None), True

    def _undo(
        self,
        proxy: EndpointProxy,
        live: EndpointRecord | None,
        routed: bool,
        standby_port: int | None,
        servers: list,
        revision_dir: Path,
        name: str,
        owner: dict[str, str],
        err: BaseException,
    ) -> None:
        """After a failed deploy: route back to the revision in service (or remove the proxy), remove the new one.

        Cleanup errors are logged, never raised: the deploy's own error is the one to report.

        :param proxy: the endpoint's proxy.
        :param live: the record of the revision in service, or None for a new endpoint.
        :param routed: whether the proxy may have been switched to the new revision.
        :param standby_port: the port of a proxy this deploy started on standby, or None.
        :param servers: the new revision's containers.
        :param revision_dir: the new revision's model folder.
        :param name: the endpoint name.
        :param owner: the Airflow identity labels.
        :param err: the deploy's error.
        """
        try:
            if live is not None and routed:
                proxy.route(live.revision, live.upstreams, live.port)
            elif live is not None and standby_port is not None:
                self._route_back(proxy, live, standby_port)
            retire(self.engine, [s.container for s in servers], grace_s=0)
            if live is None:
                proxy.remove_container()
                self.engine.remove_network(proxy.network)
        except Exception as cleanup:
            log.warning("Endpoint %s: cleanup after the failed deploy failed too: %s", name, cleanup)
        shutil.rmtree(revision_dir, ignore_errors=True)
        reason = f"{type(err).__name__}: {err}"[:1024]
        if live is not None:
            live.status, live.failure_reason, live.updated_at = (
                IN_SERVICE,
                f"The update failed: {reason}",
                utc_now_iso(),
            )
            save_endpoint(self.home, live)
        else:
            self._set_status(read_endpoint(self.home, name), FAILED, name, owner, reason)

    @staticmethod
    def _route_back(proxy: EndpointProxy, live: EndpointRecord, port: int) -> None:
        """Route a proxy this failed update started on standby to the revision in service; remove it if it cannot.

        Left on standby it would hold the endpoint's port with no nginx: clients would wait, not be refused.

        :param proxy: the endpoint's proxy.
        :param live: the record of the revision in service.
        :param port: the proxy's port.
        """
        try:
            proxy.first_route(live.revision, live.upstreams, port)
        except Exception:
            proxy.remove_container()
            raise

    def _set_status(
        self, record: EndpointRecord | None, status: str, name: str, owner: dict[str, str], reason: str = ""
    ) -> None:
        """Write the endpoint's state into its record (a minimal record when there is none yet).

        :param record: the current record, or None.
        :param status: the new state.
        :param name: the endpoint name.
        :param owner: the Airflow identity labels.
        :param reason: the failure reason, for Failed.
        """
        if record is None:
            record = EndpointRecord(name, status, "", [], "", "", "", "", 0, utc_now_iso(), 0.0, owner)
        record.status, record.failure_reason, record.updated_at = status, reason, utc_now_iso()
        save_endpoint(self.home, record)

    def _retire(self, name: str, keep_revision: str | None) -> int:
        """Stop (SIGTERM, 30 s grace) and remove the endpoint's serving containers of other revisions, and their models.

        :param name: the endpoint name.
        :param keep_revision: the revision to keep, or None to remove all.
        """
        old = [
            c
            for c in self.engine.containers({labels.ENDPOINT: name})
            if c.labels.get(ROLE) != ROLE_PROXY and c.labels.get(labels.REVISION) != keep_revision
        ]
        removed = retire(self.engine, old)
        folder = endpoints_dir(self.home) / name
        if folder.is_dir():
            for child in folder.iterdir():
                if child.name not in (keep_revision, PROXY_DIR):
                    shutil.rmtree(child, ignore_errors=True)
        return removed


def _network_labels(name: str, owner: dict[str, str]) -> dict[str, str]:
    """Labels of an endpoint's network: ours and the endpoint's, with the creating run under keys of their own.

    The endpoint outlives the DAG run that created it, so the run's own label keys stay off the network: a
    TeardownOperator of that run (which keeps endpoints) must not try to remove a network the endpoint still uses.

    :param name: the endpoint name.
    :param owner: the Airflow identity labels.
    """
    created_by = {f"created_by_{k.removeprefix('ml-lifecycle.').replace('-', '_')}": v for k, v in owner.items()}
    return labels.owned("endpoint", name, {}, endpoint=name, **created_by)


def _standby_port(started: Future[tuple[int, bool]] | None) -> int | None:
    """Return the port of the proxy a deploy started on standby, or None (it ran already, or did not start).

    :param started: the deploy's proxy start, when it got that far (done: its pool has shut down).
    """
    if started is None or not started.done() or started.cancelled() or started.exception() is not None:
        return None
    port, standby = started.result()
    return port if standby else None
