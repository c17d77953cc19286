"""Run a batch transform: serving containers up, every input object through /invocations, outputs written, down."""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ml_lifecycle.compute.inputs import list_transform_inputs
from ml_lifecycle.compute.local.agent_identity import process_identity
from ml_lifecycle.compute.local.container_sizing import container_resources, plan_gpus
from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine
from ml_lifecycle.compute.local.serving.containers import ServingContainer, start_serving, wait_until_healthy
from ml_lifecycle.compute.local.serving.model_files import fetch_model
from ml_lifecycle.compute.local.training.host_watch import LogSink
from ml_lifecycle.compute.local.transform.host_share import STOPPED_OBJECT, HostShare
from ml_lifecycle.compute.local.transform.malloc_tuning import tune_malloc
from ml_lifecycle.compute.local.transform.progress import TransformProgress
from ml_lifecycle.compute.records import RecordWriter, StoreFor
from ml_lifecycle.core import execution_parameters, labels
from ml_lifecycle.core.clock import utc_now_iso
from ml_lifecycle.core.contract import EXECUTION_PARAMETERS_PATH, STOP_GRACE_SERVING_S, host_names
from ml_lifecycle.core.gpus import GpuRequest
from ml_lifecycle.core.job_kinds import transform_record_uri
from ml_lifecycle.core.naming import container_name
from ml_lifecycle.core.record_plan import RecordPlan
from ml_lifecycle.core.sharding import shard_round_robin
from ml_lifecycle.core.specs import TransformSpec
from ml_lifecycle.core.status import JobRecord, JobStatus, SecondaryStatus
from ml_lifecycle.core.uris import ArtifactUri, parse_uri
from ml_lifecycle.errors import TransformFailed
from ml_lifecycle.stores.base import ObjectInfo

log = logging.getLogger(__name__)

# SageMaker gives a transform's container this long to answer GET /ping; a transform has no parameter for it.
TRANSFORM_STARTUP_S = 240
TRANSFORM_STARTUP_ADVICE = (
    "A transform's container gets 240 s to answer GET /ping, as on SageMaker: make the model load faster, or "
    "check the container's log above for what it waits on"
)


class TransformRunner:
    """Runs one batch transform on the Docker engine."""

    def __init__(self, engine: DockerEngine, store_for: StoreFor, work_root: Path, serving_host: str) -> None:
        """Hold the engine, stores and working folder.

        :param engine: the Docker engine.
        :param store_for: returns the store for a URI.
        :param work_root: the folder for the job's scratch files (visible to the engine).
        :param serving_host: the address published ports are reached at.
        """
        self.engine = engine
        self.store_for = store_for
        self.work_root = work_root
        self.serving_host = serving_host
        # Returns name -> value of the job's secrets (read as the containers start, or earlier by the caller);
        # the values only ever go into the containers' environment.
        self.read_secrets: Callable[[], Mapping[str, str]] = dict
        self._lock = threading.Lock()
        self._progress = TransformProgress()
        self._stopped = threading.Event()
        self._stop_reason = SecondaryStatus.STOPPED
        self._servers: list[ServingContainer] = []
        # The process that owns the containers, named in the record: the reaper's only clue about a transform's life.
        self.agent: dict[str, Any] = process_identity()
        tune_malloc()

    def run(
        self,
        spec: TransformSpec,
        job_name: str,
        owner: dict[str, str],
        sink: LogSink = log.info,
        objects: list[ObjectInfo] | None = None,
        gpus: list[GpuRequest] | None = None,
    ) -> JobRecord:
        """Transform every input object; raises TransformFailed naming the objects that failed.

        :param spec: the transform spec.
        :param job_name: the job's name.
        :param owner: the Airflow identity labels.
        :param sink: receives progress lines.
        :param objects: the input objects, when a preflight listed them already; None lists them here.
        :param gpus: each container's GPUs as a preflight planned them; None plans them here.
        """
        objects = self._input_objects(spec) if objects is None else objects
        record_uri = self._record_uri(spec, job_name)
        hosts = self._hosts(spec)
        record = JobRecord(
            job_name=job_name,
            kind="transform",
            created_at=utc_now_iso(),
            hosts=hosts,
            image_uri=spec.image_uri,
            owner=owner,
            agent=dict(self.agent),
        )
        writer = RecordWriter(self.store_for(record_uri), record_uri, record)
        writer.transition(SecondaryStatus.STARTING, JobStatus.IN_PROGRESS)
        job_dir = self.work_root / "jobs" / job_name
        failures: dict[str, str] = {}
        try:
            failures = self._run(spec, job_name, owner, hosts, objects, job_dir, writer, sink, gpus)
        except BaseException as err:
            record.failure_reason = str(err)[:1024]
            record.ended_at = utc_now_iso()
            writer.transition(SecondaryStatus.FAILED, JobStatus.FAILED)
            raise
        finally:
            self._clean_up(job_name, job_dir)
        if failures:
            raise TransformFailed(
                f"Batch transform {job_name}: {len(failures)} of {len(objects)} input objects failed "
                f"(no .out was written for them): "
                + "; ".join(f"{key}: {reason}" for key, reason in sorted(failures.items()))
            )
        return record

    def _record_uri(self, spec: TransformSpec, job_name: str) -> ArtifactUri:
        """Return where this runner writes its record: the job's record (an EC2 host writes its own result).

        :param spec: the transform spec.
        :param job_name: the job's name.
        """
        return parse_uri(transform_record_uri(spec.output_uri, job_name))

    def stop(self, reason: str = SecondaryStatus.STOPPED) -> None:
        """Stop the transform: no new request starts, the serving containers stop; safe from another thread.

        :param reason: the secondary status the record ends with (Stopped, or MaxRuntimeExceeded).
        """
        if self._stopped.is_set():
            return
        self._stop_reason = reason
        self._stopped.set()
        log.warning("Transform stopping (%s)", reason)
        for server in list(self._servers):
            try:
                self.engine.stop(server.container, STOP_GRACE_SERVING_S)
            except Exception as err:
                log.warning("Stopping %s: %s", server.container.name, err)

    def _hosts(self, spec: TransformSpec) -> list[str]:
        """Return the hosts whose serving containers this runner starts: all of them (an EC2 host starts its own).

        :param spec: the transform spec.
        """
        return host_names(spec.instance_count)

    def _run(
        self,
        spec: TransformSpec,
        job_name: str,
        owner: dict[str, str],
        hosts: list[str],
        objects: list[ObjectInfo],
        job_dir: Path,
        writer: RecordWriter,
        sink: LogSink,
        gpus: list[GpuRequest] | None = None,
    ) -> dict[str, str]:
        """Start the containers, transform the objects, record the outcome; return failed key -> reason.

        :param spec: the transform spec.
        :param job_name: the job's name.
        :param owner: the Airflow identity labels.
        :param hosts: the host names.
        :param objects: the input objects.
        :param job_dir: the job's scratch folder.
        :param writer: the record writer.
        :param sink: receives progress lines.
        :param gpus: each container's GPUs when a preflight planned them, else None.
        """
        record = writer.record
        image = self.engine.ensure_image(spec.image_uri)
        record.image_digest = image.digest or image.image_id
        if gpus is None:
            gpus = plan_gpus(self.engine, image.image_id, spec.instance_type, spec.gpus, len(hosts), sink)
        # Memory and CPUs are not capped here (the runner shares the machine with its containers); GPUs, /dev/shm
        # and limits are the instance type's.
        resources = container_resources(
            self.engine, spec.instance_type, gpus, spec.shm_size_bytes, limit_to_instance=False
        )
        model_dir = fetch_model(spec.model_uri, str(job_dir), self.store_for)
        environment = {**execution_parameters.container_environment(spec), **self.read_secrets()}
        # No ml-lifecycle.deadline label, unlike training's: this runner stops the transform itself at max_runtime_s
        # (SageMaker's transform job has no stopping condition; ours is the operator's max_runtime_s, default a day),
        # and the reaper judges a transform by the runner its record names (reaper_rules.RUNNER_BOUND_KINDS), so a
        # user's max_job_age_s never removes a healthy long transform.
        run_labels = labels.owned("transform", job_name, owner)
        overdue = threading.Timer(spec.max_runtime_s, self.stop, args=(SecondaryStatus.MAX_RUNTIME_EXCEEDED,))
        overdue.daemon = True
        overdue.start()
        try:
            for host, host_resources in zip(hosts, resources, strict=True):
                if self._stopped.is_set():
                    break
                self._servers.append(  # one by one, so that a stop meanwhile stops those already started
                    start_serving(
                        self.engine,
                        name=container_name(job_name, host),
                        image=image.image_id,
                        model_dir=model_dir,
                        environment=environment,
                        labels={**run_labels, labels.HOST: host},
                        host=self.serving_host,
                        request_timeout_s=spec.invocation_timeout_s,
                        resources=host_resources,
                    )
                )
            return self._transform_all(spec, job_name, list(self._servers), objects, writer, sink, overdue)
        finally:
            overdue.cancel()

    def _transform_all(
        self,
        spec: TransformSpec,
        job_name: str,
        servers: list[ServingContainer],
        objects: list[ObjectInfo],
        writer: RecordWriter,
        sink: LogSink,
        overdue: threading.Timer,
    ) -> dict[str, str]:
        """Wait for the containers, transform every object across them, record the outcome; return failures.

        :param spec: the transform spec.
        :param job_name: the job's name.
        :param servers: the serving containers, one per host (fewer when the transform was stopped meanwhile).
        :param objects: the input objects.
        :param writer: the record writer.
        :param sink: receives progress lines.
        :param overdue: the max_runtime_s timer, cancelled once every object is through.
        """
        record = writer.record
        for server in servers:
            if not self._stopped.is_set():
                wait_until_healthy(self.engine, server, TRANSFORM_STARTUP_S, TRANSFORM_STARTUP_ADVICE)
        if self._stopped.is_set() or not servers:
            return self._record_stopped(writer, {o.relative_key: STOPPED_OBJECT for o in objects})
        params = execution_parameters.resolve(
            spec.batch_strategy, spec.max_payload_mb, spec.max_concurrent_transforms, self._ask(servers[0])
        )
        plan = RecordPlan.for_transform(spec, params)
        sink(f"Transform {job_name}: {len(objects)} objects on {len(servers)} host(s), {params}")
        writer.transition(SecondaryStatus.TRAINING)
        failures: dict[str, str] = {}
        started = time.monotonic()
        shares = [
            HostShare(
                spec,
                params,
                plan,
                server,
                self.store_for,
                self.engine,
                self._progress,
                self._stopped,
                failures,
                self._lock,
            )
            for server in servers
        ]
        workers = [
            threading.Thread(target=share.run, args=(part,), daemon=True)
            for share, part in zip(shares, shard_round_robin(objects, len(servers)), strict=True)
        ]
        for worker in workers:
            worker.start()
        self._progress.report_until_done(workers, started, sink)
        overdue.cancel()  # a stop from here on finds every object through
        elapsed_s = time.monotonic() - started
        record.metrics = {
            "records": float(self._progress.records),
            "records_per_s": round(self._progress.records / elapsed_s, 1) if elapsed_s else 0.0,
            "bytes": float(self._progress.bytes_sent),
            "objects": float(len(objects)),
            "failed_objects": float(len(failures)),
        }
        record.artifacts = {"output": spec.output_uri}
        record.ended_at = utc_now_iso()
        stopped = self._stopped.is_set() and any(r == STOPPED_OBJECT for r in failures.values())
        if stopped:
            return self._record_stopped(writer, failures)
        if failures:
            record.failure_reason = "; ".join(f"{k}: {v}" for k, v in sorted(failures.items()))[:1024]
            writer.transition(SecondaryStatus.FAILED, JobStatus.FAILED)
        else:
            writer.transition(SecondaryStatus.COMPLETED, JobStatus.COMPLETED)
        sink(
            f"Transform {job_name}: {self._progress.records} records in {elapsed_s:.2f} s, {len(failures)} failed objects"
        )
        return failures

    def _record_stopped(self, writer: RecordWriter, failures: dict[str, str]) -> dict[str, str]:
        """Record that the transform was stopped before every object was through; return the failures.

        :param writer: the record writer.
        :param failures: failed or skipped key -> reason.
        """
        why = "max_runtime_s ran out" if self._stop_reason == SecondaryStatus.MAX_RUNTIME_EXCEEDED else "stopped"
        writer.record.failure_reason = f"The transform was stopped ({why}); {len(failures)} input object(s) not done"
        writer.record.ended_at = utc_now_iso()
        writer.transition(self._stop_reason, JobStatus.STOPPED)
        return failures

    def _input_objects(self, spec: TransformSpec) -> list[ObjectInfo]:
        """List the objects to transform (list_transform_inputs).

        :param spec: the transform spec.
        """
        return list_transform_inputs(spec, self.store_for)

    def _ask(self, server: ServingContainer) -> dict[str, object]:
        """Ask a container for its execution parameters; an image without the route answers nothing.

        :param server: a healthy serving container.
        """
        try:
            response = server.client.request("GET", EXECUTION_PARAMETERS_PATH)
            if response.status == 200:
                return execution_parameters.parse_container_answer(json.loads(response.body))
        except (OSError, ValueError) as err:
            log.info("GET %s failed (%s); using the defaults", EXECUTION_PARAMETERS_PATH, err)
        return {}

    def _clean_up(self, job_name: str, job_dir: Path) -> None:
        """Remove the job's containers and scratch folder; errors are logged, never raised.

        :param job_name: the job's name.
        :param job_dir: the job's scratch folder.
        """
        try:
            for container in self.engine.containers({labels.JOB: job_name}):
                self.engine.remove(container)
        except Exception as err:
            log.warning("Cleanup of %s: %s", job_name, err)
        shutil.rmtree(job_dir, ignore_errors=True)
