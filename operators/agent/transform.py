"""Run a batch transform: serving containers up, every input object through /invocations, outputs written, down."""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ml_lifecycle.agent.clock import utc_now_iso
from ml_lifecycle.agent.host_watch import LogSink
from ml_lifecycle.agent.http_client import InvocationError
from ml_lifecycle.agent.malloc_tuning import tune_malloc
from ml_lifecycle.agent.model_files import fetch_model
from ml_lifecycle.agent.object_transform import ObjectSides, stream_object, transform_records
from ml_lifecycle.agent.preflight import _manifest_objects
from ml_lifecycle.agent.records import RecordWriter, StoreFor
from ml_lifecycle.agent.serving import ServingContainer, start_serving, wait_until_healthy
from ml_lifecycle.agent.transform_progress import TransformProgress
from ml_lifecycle.compute import labels
from ml_lifecycle.compute.docker_engine import DockerEngine
from ml_lifecycle.compute.reaper import process_identity
from ml_lifecycle.core import execution_parameters
from ml_lifecycle.core.batching import MB, UNLIMITED_PAYLOAD_BYTES
from ml_lifecycle.core.contract import EXECUTION_PARAMETERS_PATH, host_names
from ml_lifecycle.core.naming import container_name
from ml_lifecycle.core.record_plan import RecordPlan
from ml_lifecycle.core.sharding import shard_round_robin
from ml_lifecycle.core.specs import TransformSpec
from ml_lifecycle.core.status import JobRecord, JobStatus, SecondaryStatus
from ml_lifecycle.core.uris import ArtifactUri, parse_uri
from ml_lifecycle.errors import MlLifecycleError, SpecError, TransformFailed
from ml_lifecycle.stores.base import ObjectInfo

log = logging.getLogger(__name__)

RECORDS_FOLDER = ".ml-lifecycle"


def transform_record_uri(output_uri: str, job_name: str) -> str:
    """Return where a transform's record lives: ``<output_uri>/.ml-lifecycle/<job>/status.json``.

    :param output_uri: the transform's output prefix.
    :param job_name: the job name.
    """
    return str(parse_uri(output_uri, "output_uri").join(RECORDS_FOLDER, job_name, "status.json"))


def list_transform_inputs(spec: TransformSpec, store_for: StoreFor) -> list[ObjectInfo]:
    """List the objects to transform: every object below input_uri, or those a manifest names; none is an error.

    :param spec: the transform spec.
    :param store_for: returns the store for a URI.
    """
    input_uri = parse_uri(spec.input_uri, "input_uri")
    if spec.data_type == "ManifestFile":  # training's manifest reader, so both jobs read manifests alike
        objects = _manifest_objects(input_uri, store_for, "input_uri")
    else:
        objects = store_for(input_uri).list_objects(input_uri)
        objects = [o for o in objects if not o.relative_key.startswith(RECORDS_FOLDER + "/")]
    if not objects:
        raise SpecError("input_uri", f"{spec.input_uri} holds no objects", "Upload the input there or fix input_uri")
    return objects


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
        self._lock = threading.Lock()
        self._progress = TransformProgress()
        # The process that owns the containers, named in the record: the reaper's only clue about a transform's life.
        self.agent: dict[str, Any] = process_identity()
        tune_malloc()

    def run(self, spec: TransformSpec, job_name: str, owner: dict[str, str], sink: LogSink = log.info) -> JobRecord:
        """Transform every input object; raises TransformFailed naming the objects that failed.

        :param spec: the transform spec.
        :param job_name: the job's name.
        :param owner: the Airflow identity labels.
        :param sink: receives progress lines.
        """
        objects = self._input_objects(spec)
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
            failures = self._run(spec, job_name, owner, hosts, objects, job_dir, writer, sink)
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
        """
        record = writer.record
        image = self.engine.ensure_image(spec.image_uri)
        record.image_digest = image.digest or image.image_id
        model_dir = fetch_model(spec.model_uri, str(job_dir), self.store_for)
        environment = {**spec.environment, "SAGEMAKER_BATCH": "true"}
        for name, value in (
            ("SAGEMAKER_MAX_PAYLOAD_IN_MB", spec.max_payload_mb),
            ("SAGEMAKER_BATCH_STRATEGY", spec.batch_strategy and _env_strategy(spec.batch_strategy)),
            ("SAGEMAKER_MAX_CONCURRENT_TRANSFORMS", spec.max_concurrent_transforms),
        ):
            if value is not None:  # max_payload_mb 0 (streamed bodies) is said too
                environment[name] = str(value)
        # No ml-lifecycle.deadline label, unlike training's (max_runtime_s plus grace and margin): nothing bounds a
        # transform's runtime. SageMaker's transform job has no stopping condition, only invocation_timeout_s and
        # max_retries per request, and the number of requests is known only once the input is read (a Line split
        # sends a request per record or payload). The operator's max_runtime_s bounds compute="ec2" only, where the
        # instances end themselves, and does not reach this runner. A made-up deadline would have the reaper remove
        # a healthy long transform, and would override the max_job_age_s a user set for them. The reaper judges a
        # transform by the runner its record names instead (reaper_rules.RUNNER_BOUND_KINDS).
        run_labels = labels.owned("transform", job_name, owner)
        servers = [
            start_serving(
                self.engine,
                name=container_name(job_name, host),
                image=image.image_id,
                model_dir=model_dir,
                environment=environment,
                labels={**run_labels, labels.HOST: host},
                host=self.serving_host,
                request_timeout_s=spec.invocation_timeout_s,
            )
            for host in hosts
        ]
        for server in servers:
            wait_until_healthy(self.engine, server, startup_timeout_s=240)
        params = execution_parameters.resolve(
            spec.batch_strategy, spec.max_payload_mb, spec.max_concurrent_transforms, self._ask(servers[0])
        )
        plan = _record_plan(spec, params)
        sink(f"Transform {job_name}: {len(objects)} objects on {len(servers)} host(s), {params}")
        writer.transition(SecondaryStatus.TRAINING)
        failures: dict[str, str] = {}
        started = time.monotonic()
        workers = [
            threading.Thread(target=self._host_worker, args=(spec, params, plan, server, share, failures), daemon=True)
            for server, share in zip(servers, shard_round_robin(objects, len(servers)), strict=True)
        ]
        for worker in workers:
            worker.start()
        self._progress.report_until_done(workers, started, sink)
        elapsed_s = time.monotonic() - started
        record.metrics = {
            "records": float(self._progress.records),
            "records_per_s": round(self._progress.records / elapsed_s, 1) if elapsed_s else 0.0,
            "bytes": float(self._progress.bytes_sent),
        }
        record.artifacts = {"output": spec.output_uri}
        record.ended_at = utc_now_iso()
        if failures:
            record.failure_reason = "; ".join(f"{k}: {v}" for k, v in sorted(failures.items()))[:1024]
            writer.transition(SecondaryStatus.FAILED, JobStatus.FAILED)
        else:
            writer.transition(SecondaryStatus.COMPLETED, JobStatus.COMPLETED)
        sink(
            f"Transform {job_name}: {self._progress.records} records in {elapsed_s:.2f} s, {len(failures)} failed objects"
        )
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

    def _host_worker(
        self,
        spec: TransformSpec,
        params: execution_parameters.ExecutionParameters,
        plan: RecordPlan,
        server: ServingContainer,
        objects: list[ObjectInfo],
        failures: dict[str, str],
    ) -> None:
        """Transform one host's share of the objects, one after another, each with bounded concurrency.

        :param spec: the transform spec.
        :param params: the settled execution parameters.
        :param plan: how records are split, sent and written.
        :param server: this host's container.
        :param objects: this host's objects.
        :param failures: failed key -> reason, shared by all hosts.
        """
        headers = {"Content-Type": spec.content_type or "application/octet-stream"}
        if spec.accept:
            headers["Accept"] = spec.accept
        window = params.max_concurrent_transforms
        pending = deque(objects)
        try:
            with ThreadPoolExecutor(max_workers=window, thread_name_prefix="invoke") as executor:
                while pending:
                    obj = pending.popleft()
                    try:
                        self._transform_object(spec, plan, server, obj, headers, executor, window)
                    except InvocationError as err:
                        self._fail(failures, obj, str(err) + self._container_note(server))
                    except (MlLifecycleError, OSError) as err:
                        self._fail(failures, obj, str(err))
                    except Exception as err:  # e.g. MemoryError: fails this object, never lost with the thread
                        log.exception("Input %s failed unexpectedly", obj.uri)
                        self._fail(failures, obj, f"{type(err).__name__}: {err}".removesuffix(": "))
        except Exception as err:  # the pool itself broke: what this host had left is not done
            log.exception("The transform worker for %s stopped", server.url)
            for obj in pending:
                self._fail(failures, obj, f"not transformed: the worker stopped ({type(err).__name__}: {err})")

    def _container_note(self, server: ServingContainer) -> str:
        """Say why a request failed when its container is no longer running; empty when it still runs.

        :param server: the container the request went to.
        """
        try:
            server.container.reload()
        except Exception:
            return f" (the serving container {server.container.name} is gone: something else removed it)"
        if server.container.status == "running":
            return ""
        return f" (the serving container {server.container.name} is {server.container.status}; its last lines: " + (
            self.engine.log_tail(server.container)[-500:] + ")"
        )

    def _fail(self, failures: dict[str, str], obj: ObjectInfo, reason: str) -> None:
        """Record that an object failed.

        :param failures: failed key -> reason, shared by all hosts.
        :param obj: the object.
        :param reason: why, as the job record and TransformFailed show it.
        """
        with self._lock:
            failures[obj.relative_key] = reason
        log.error("Input %s failed: %s", obj.uri, reason)

    def _transform_object(
        self,
        spec: TransformSpec,
        plan: RecordPlan,
        server: ServingContainer,
        obj: ObjectInfo,
        headers: dict[str, str],
        executor: ThreadPoolExecutor,
        window: int,
    ) -> None:
        """Transform one object into ``<output_uri>/<relative key>.out``: by records, or streamed whole.

        :param spec: the transform spec.
        :param plan: how records are split, sent and written.
        :param server: the container.
        :param obj: the input object.
        :param headers: the request headers.
        :param executor: the pool requests run on.
        :param window: requests in flight at once.
        """
        source = parse_uri(obj.uri)
        target = parse_uri(spec.output_uri, "output_uri").join(obj.relative_key + ".out")
        sides = ObjectSides(self.store_for, source, target, headers, self._progress)
        if plan.streams_objects:
            stream_object(sides, spec, plan, server)
        else:
            transform_records(sides, spec, plan, server, executor, window)

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


def _record_plan(spec: TransformSpec, params: execution_parameters.ExecutionParameters) -> RecordPlan:
    """Return how the transform's objects become requests, once its parameters are settled.

    :param spec: the transform spec.
    :param params: the settled execution parameters (the container may have chosen max_payload_mb 0).
    """
    return RecordPlan(
        split_type=spec.split_type,
        batch_strategy=params.batch_strategy,
        # max_payload_mb 0: no limit; whole objects stream (streams_objects), single records go out chunked.
        max_payload_bytes=params.max_payload_mb * MB or UNLIMITED_PAYLOAD_BYTES,
        assemble_with=spec.assemble_with,
        gzip=spec.compression_type == "Gzip",
        processing=spec.data_processing(),
    )


def _env_strategy(strategy: str) -> str:
    """Spell a batch strategy as the SAGEMAKER_BATCH_STRATEGY variable does.

    :param strategy: ``MultiRecord`` or ``SingleRecord``.
    """
    return "MULTI_RECORD" if strategy == "MultiRecord" else "SINGLE_RECORD"
