"""Serve an EC2 endpoint revision on this instance: model, image, a ``serve`` container on 8080, its log shipped."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from ml_lifecycle.agent.instance.aws_environment import instance_aws_environment
from ml_lifecycle.agent.instance.cloudwatch import CloudWatchShipper
from ml_lifecycle.agent.instance.endpoint_capture import HostCapture, loopback_port
from ml_lifecycle.agent.instance.host_context import open_host
from ml_lifecycle.agent.instance.host_engine import InstanceEngine
from ml_lifecycle.agent.instance.imds import MetadataClient
from ml_lifecycle.agent.instance.runner import EXIT_COMPLETED, EXIT_FAILED, work_root
from ml_lifecycle.agent.instance.scale_in import let_go, scaled_in
from ml_lifecycle.aws_clients import client_factory
from ml_lifecycle.compute.local.container_sizing import container_resources, plan_gpus
from ml_lifecycle.compute.local.serving.http_client import ContainerClient
from ml_lifecycle.compute.local.serving.model_files import fetch_model, model_mounts
from ml_lifecycle.core import labels
from ml_lifecycle.core.clock import utc_now_iso
from ml_lifecycle.core.contract import SERVING_PORT
from ml_lifecycle.core.ec2.endpoint_hosts import STOP_REQUEST, host_capture_uri, host_report_uri
from ml_lifecycle.core.status import EndpointStatus
from ml_lifecycle.core.uris import ArtifactUri, parse_uri
from ml_lifecycle.secret_sources.values import resolve_secrets
from ml_lifecycle.stores.base import ArtifactStore

log = logging.getLogger(__name__)

SERVING_PORT_ENV = "ML_LIFECYCLE_SERVING_PORT"  # the host port 8080 is published on (tests run many hosts)
POLL_S = 5.0
PING_EVERY_S = 0.5

Sink = Callable[[str], None]


def container_name(job_name: str, instance_id: str) -> str:
    """Return the serving container's name on the instance (unique on an engine that several hosts share, as in the
    EC2 emulation, where one revision's instances run side by side).

    :param job_name: the revision's job name.
    :param instance_id: the instance's id.
    """
    return f"mlc-ep-{job_name}-{instance_id}"


def _run_serving(engine: InstanceEngine, resources: Any, **run: Any) -> Any:
    """Start the serving container with the instance type's resources; where the engine refuses to raise the
    containers' limits (rlimits), start it again with the engine's own, as job containers are.

    :param engine: the instance's Docker engine.
    :param resources: the container's resources (memory, CPUs, GPUs, /dev/shm, limits).
    :param run: the docker SDK's ``containers.run`` arguments besides the resources.
    """
    import docker

    try:
        return engine.client.containers.run(**run, **engine.host_resources(resources))
    except docker.errors.APIError as err:
        if not engine.limits_refused(str(err.explanation or err)):
            raise
        engine.remove_by_name(str(run["name"]))
    return engine.client.containers.run(**run, **engine.host_resources(resources))  # now without the limits


def run_endpoint_host(document_uri: str, sink: Sink, imds: MetadataClient | None = None) -> int:
    """Start this instance's serving container, report it, and ship its log until a stop request; return the exit code.

    The container restarts on failure by itself; this process only reports and ships logs, so its end (exit 0 after a
    stop request) leaves the instance running (the user data powers off only after a failure).

    :param document_uri: the job document (``<staging>/job.json``) of kind ``endpoint``.
    :param sink: receives the agent's progress lines; the container's lines go to the CloudWatch Logs stream
        ``<endpoint>/<instance id>`` of /aws/ml-lifecycle/Endpoints.
    :param imds: the metadata client; None uses the instance's.
    """
    host = open_host(document_uri, imds)
    identity, store_for, document = host.identity, host.store_for, host.document
    spec = document.spec
    staging = parse_uri(document.staging_uri, "staging_uri")
    report = host_report_uri(staging, identity.instance_id)
    port = int(os.environ.get(SERVING_PORT_ENV) or SERVING_PORT)
    engine = InstanceEngine(lambda region: client_factory("ecr", None, region))
    name = container_name(document.job_name, identity.instance_id)
    owned = labels.owned("endpoint", document.job_name, document.owner, host=identity.instance_id)
    capture = (
        HostCapture(
            engine,
            spec,
            document.job_name,
            work_root() / "endpoints" / document.job_name / "proxy",
            store_for,
            host_capture_uri(staging, identity.instance_id),
        )
        if spec.data_capture is not None
        else None
    )
    # With capture, the proxy holds the serving port and the model answers it on a loopback port of its own.
    model_port = port if capture is None else loopback_port()
    published = {f"{SERVING_PORT}/tcp": port if capture is None else ("127.0.0.1", model_port)}
    try:
        sink(f"Endpoint {spec.endpoint_name}: {document.job_name} on {identity.instance_id}; fetching {spec.model_uri}")
        model_dir = fetch_model(spec.model_uri, str(work_root() / "endpoints" / document.job_name), store_for)
        image = engine.ensure_image(spec.image_uri)
        gpus = plan_gpus(engine, image.image_id, spec.instance_type, spec.gpus, 1, sink)  # the instance's own
        resources = container_resources(engine, spec.instance_type, gpus, spec.shm_size_bytes, limit_to_instance=False)
        container = _run_serving(
            engine,
            resources[0],
            image=image.image_id,
            command=["serve"],
            name=name,
            detach=True,
            environment={
                **spec.environment,
                **instance_aws_environment(),
                **resolve_secrets(spec.secrets, None, region=identity.region),  # with the instance's role
            },
            volumes={
                m.source: {"bind": m.target, "mode": "ro" if m.read_only else "rw"}
                for m in model_mounts(model_dir, name)
            },
            labels=owned,
            ports=published,
            restart_policy={"Name": "on-failure"},
        )
        _wait_ping(ContainerClient("127.0.0.1", model_port, 2.0), container, spec.startup_timeout_s)
        if capture is not None:
            capture.start(port, model_port, owned, sink)
    except Exception as err:
        reason = f"{type(err).__name__}: {err}"[:1024]
        sink(f"Endpoint {spec.endpoint_name}: this host cannot serve: {reason}")
        _report(store_for, report, EndpointStatus.FAILED, reason)
        if capture is not None:
            capture.remove()
        engine.remove_by_name(name)
        return EXIT_FAILED
    _report(store_for, report, EndpointStatus.IN_SERVICE, "", image_digest=image.digest or image.image_id)
    sink(f"Endpoint {spec.endpoint_name}: serving on port {port} ({image.digest or image.image_id})")
    stream = f"{spec.endpoint_name}/{identity.instance_id}"
    stop_uri = staging.join(STOP_REQUEST)
    ship = CloudWatchShipper(client_factory("logs", None, identity.region), document.log_group, stream)

    def container_sink(line: str) -> None:
        print(line, flush=True)
        ship(line)

    terminated = threading.Event()  # the instance shuts down: stop as on a request
    signal.signal(signal.SIGTERM, lambda *_: terminated.set())
    # Auto Scaling ends this instance: a capturing group holds it (a lifecycle hook) until its capture is uploaded.
    ending = threading.Event()

    def stop_requested() -> bool:
        if capture is not None and scaled_in(host.imds):
            ending.set()
        return ending.is_set() or terminated.is_set() or store_for(stop_uri).exists(stop_uri)

    try:
        _ship_until_stopped(
            engine,
            container,
            stop_requested,
            (lambda: capture.stop(sink)) if capture is not None else (lambda: None),
            container_sink,
        )
    finally:
        ship.close()
    if ending.is_set():
        let_go(client_factory("autoscaling", None, identity.region), identity.instance_id, sink)
    return EXIT_COMPLETED


def _wait_ping(client: ContainerClient, container: Any, timeout_s: float) -> None:
    """Wait until the container answers GET /ping with 200; raise with its log when it does not in time.

    :param client: the container's port.
    :param container: the container.
    :param timeout_s: the startup budget.
    """
    end_s = time.monotonic() + timeout_s
    while time.monotonic() < end_s:
        if client.ping():
            return
        time.sleep(PING_EVERY_S)
    tail = container.logs(tail=30).decode("utf-8", "replace")
    raise TimeoutError(f"GET /ping did not answer 200 within {timeout_s:.0f} s; the container's last lines:\n{tail}")


def _report(
    store_for: Callable[[ArtifactUri], ArtifactStore], uri: ArtifactUri, status: str, reason: str, **extra: str
) -> None:
    """Write this host's report (the operator reads it while it waits for the target to turn healthy).

    :param store_for: returns the store for a URI.
    :param uri: the report.
    :param status: ``InService`` or ``Failed``.
    :param reason: why it failed.
    :param extra: more fields.
    """
    body = {"status": status, "failure_reason": reason, "at": utc_now_iso(), **extra}
    store_for(uri).write_bytes(uri, json.dumps(body).encode())


def _ship_until_stopped(
    engine: InstanceEngine,
    container: Any,
    stop_requested: Callable[[], bool],
    before_removal: Callable[[], None],
    sink: Sink,
) -> None:
    """Send the container's log to sink (across restarts) until a stop request; then remove the container.

    :param engine: the instance's engine.
    :param container: the serving container.
    :param stop_requested: says whether a stop was asked for (the stop request object, or SIGTERM).
    :param before_removal: runs once the stop is asked for, before the container goes (the capture's proxy stops).
    :param sink: the log.
    """
    stopped = threading.Event()

    def follow() -> None:
        since = 0
        while not stopped.is_set():
            try:
                for chunk in container.logs(stream=True, follow=True, since=since):
                    for line in chunk.decode("utf-8", "replace").splitlines():
                        sink(line)
            except Exception as err:  # the container went away: stop following
                log.info("The container's log ended: %s", err)
                return
            since = int(time.time())
            stopped.wait(1.0)

    follower = threading.Thread(target=follow, name="container-log", daemon=True)
    follower.start()
    while not stop_requested():
        time.sleep(POLL_S)
    sink("A stop was requested: removing the serving container")
    try:
        before_removal()
    finally:  # the serving container goes even when the capture's last pass failed (that error is raised)
        stopped.set()
        engine.remove_by_name(container.name)
        follower.join(10)
