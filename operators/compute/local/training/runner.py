"""Run one container job (training, processing) on the Docker engine with SageMaker's layout, and export its outputs."""

from __future__ import annotations

import functools
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from ml_lifecycle.compute.inputs import list_channels
from ml_lifecycle.compute.local.container_sizing import container_resources, plan_gpus
from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine, ImageInfo
from ml_lifecycle.compute.local.training.checkpoints import DEFAULT_SYNC_INTERVAL_S
from ml_lifecycle.compute.local.training.engine_calls import in_background, in_parallel, succeeded
from ml_lifecycle.compute.local.training.export import TrainingExport
from ml_lifecycle.compute.local.training.failure import failure_reason_of
from ml_lifecycle.compute.local.training.host_contract import TRAINING_CONTRACT, HostContract
from ml_lifecycle.compute.local.training.host_watch import HostWatcher, LogSink
from ml_lifecycle.compute.local.training.interruption import INTERRUPT_GRACE_S, INTERRUPTED, JobInterrupted
from ml_lifecycle.compute.local.training.live_metrics import LIVE_METRICS_INTERVAL_S, LiveMetrics
from ml_lifecycle.compute.local.training.placement import HostPlacement
from ml_lifecycle.compute.local.training.staging import stage_channels
from ml_lifecycle.compute.records import RecordWriter, StoreFor
from ml_lifecycle.core import contract, labels
from ml_lifecycle.core.clock import utc_now_iso
from ml_lifecycle.core.gpus import GpuRequest
from ml_lifecycle.core.job_kinds import DEADLINE_MARGIN_S, RECORD_NAME
from ml_lifecycle.core.metrics import MetricScanner
from ml_lifecycle.core.naming import container_name
from ml_lifecycle.core.status import JobRecord, JobStatus, SecondaryStatus, is_failed, status_for_exit
from ml_lifecycle.errors import JobFailed, MlLifecycleError

log = logging.getLogger(__name__)


class StopRequested(MlLifecycleError):
    """The job was asked to stop before its containers started."""


class TrainingRunner:
    """Runs container jobs (training, or another kind its host contract describes) on one Docker engine; one instance
    per job, so stop() knows what to stop."""

    def __init__(
        self,
        engine: DockerEngine,
        store_for: StoreFor,
        work_root: Path,
        region: str,
        placement: HostPlacement | None = None,
        export: TrainingExport | None = None,
        host_contract: HostContract = TRAINING_CONTRACT,
    ) -> None:
        """Hold the engine, stores and working folder.

        :param engine: the Docker engine to run on.
        :param store_for: returns the store for a URI.
        :param work_root: the folder under which each job lays out /opt/ml (visible to the engine).
        :param region: the AWS region reported to the container.
        :param placement: which hosts run here and how they are networked; None runs all on a private network.
        :param export: gathers hosts that ran elsewhere and uploads the outputs; None uploads as the kind does when
            every host ran here (training packs archives, SageMaker's way).
        :param host_contract: what the kind of job puts in its hosts and takes out (default: training).
        """
        self.contract = host_contract
        self.engine = engine
        self.store_for = store_for
        self.work_root = work_root
        self.region = region
        self.placement = placement or HostPlacement()
        self.export = export or host_contract.export(store_for)
        self._watcher: HostWatcher | None = None
        self._log_tail = ""
        self._stop_requested = threading.Event()
        self._interrupted = threading.Event()
        self._network_removal: Future[Any] | None = None
        self.agent: dict[str, Any] = {}
        # name -> value of the job's secrets, asked as the containers start; values go to their environment only.
        self.read_secrets: Callable[[], Mapping[str, str]] = dict
        self.checkpoint_interval_s = DEFAULT_SYNC_INTERVAL_S

    def run(
        self,
        spec: Any,
        job_name: str,
        owner: dict[str, str],
        sink: LogSink = log.info,
        listings: dict[str, list[Any]] | None = None,
        writer: RecordWriter | None = None,
        image: ImageInfo | None = None,
        gpus: list[GpuRequest] | None = None,
    ) -> JobRecord:
        """Run the job to its end and return its final record; raises JobFailed when it did not complete.

        An interrupted job (interrupt()) returns its record InProgress with secondary status Interrupted.

        :param spec: the job's spec (a TrainingSpec, or the spec of the host contract's kind).
        :param job_name: the job's name.
        :param owner: the Airflow identity labels.
        :param sink: receives progress and each host's log lines.
        :param listings: channel (or input) name -> objects, when a preflight listed them already; None lists them here.
        :param writer: the record to continue (a resumed job, or a host result of a job run on several
            machines); None starts the kind's record (``<output_path>/<job>/status.json``) afresh.
        :param image: the job's image as a preflight just found it on this engine; None looks it up (pulling it).
        :param gpus: each local host's GPUs as a preflight planned them; None plans them here.
        """
        hosts = contract.host_names(spec.instance_count)
        if writer is None:
            out_uri = self.contract.job_uri(spec, job_name)
            record = JobRecord(job_name=job_name, kind=self.contract.kind.name, created_at=utc_now_iso())
            writer = RecordWriter(self.store_for(out_uri), out_uri.join(RECORD_NAME), record)
        record = writer.record
        record.hosts, record.image_uri, record.owner = hosts, spec.image_uri, owner
        record.hyperparameters = self.contract.hyperparameters(
            spec, job_name, self.region
        )  # as the container gets them
        record.agent = {**record.agent, **self.agent}
        writer.transition(SecondaryStatus.STARTING, JobStatus.IN_PROGRESS)
        job_dir = self.work_root / "jobs" / job_name
        here = self.placement.local_hosts(hosts)
        network = f"mlc-{job_name}" if len(hosts) > 1 and not self.placement.host_network else None
        self._network_removal = None
        try:
            if listings is None:
                listings = list_channels(
                    dict(self.contract.channels(spec)), self.store_for, self.contract.inputs_parameter
                )
            result = self._run(spec, job_name, owner, hosts, job_dir, network, writer, sink, listings, image, gpus)
        except BaseException as err:
            self._fail(writer, err)
            raise
        finally:
            self._clean_up(job_name, here, job_dir, network)
        if is_failed(result.status):
            raise JobFailed(job_name, result.secondary_status, result.failure_reason, self._log_tail)
        return result

    def stop(self) -> None:
        """Stop a running job (SIGTERM, then SIGKILL after 120 s); safe to call from another thread."""
        self._stop_requested.set()
        if self._watcher is not None:
            self._watcher.stop()

    def interrupt(self) -> None:
        """Stop the job because its host goes away (SIGTERM, SIGKILL after INTERRUPT_GRACE_S), to resume later."""
        self._interrupted.set()
        self._stop_requested.set()
        if self._watcher is not None:
            self._watcher.grace_s = min(self._watcher.grace_s, INTERRUPT_GRACE_S)
            self._watcher.stop()

    def _run(
        self,
        spec: Any,
        job_name: str,
        owner: dict[str, str],
        hosts: list[str],
        job_dir: Path,
        network: str | None,
        writer: RecordWriter,
        sink: LogSink,
        listings: dict[str, list[Any]],
        image: ImageInfo | None = None,
        gpus: list[GpuRequest] | None = None,
    ) -> JobRecord:
        """Stage, run, watch and export; returns the final record.

        :param spec: the job's spec.
        :param job_name: the job's name.
        :param owner: the Airflow identity labels.
        :param hosts: the host names.
        :param job_dir: the job's working folder.
        :param network: the private network for several hosts, or None.
        :param writer: the job record's writer.
        :param sink: receives progress and log lines.
        :param listings: channel name -> its objects.
        :param image: the job's image when a preflight found it already, else None.
        :param gpus: each local host's GPUs when a preflight planned them, else None.
        """
        record = writer.record
        image = image or self.engine.ensure_image(spec.image_uri)
        record.image_digest = image.digest or image.image_id
        here = self.placement.local_hosts(hosts)
        if gpus is None:
            gpus = plan_gpus(self.engine, image.image_id, spec.instance_type, spec.gpus, len(here), sink)
        sizes = container_resources(
            self.engine, spec.instance_type, gpus, spec.shm_size_bytes, limit_to_instance=self.placement.limit_resources
        )
        resources = dict(zip(here, sizes, strict=True))
        # Every host gets a layout, so channels are sharded over all of them; only the hosts here run.
        layouts = {host: self.contract.layout(spec, str(job_dir / host)) for host in hosts}
        for folder in (folder for layout in layouts.values() for folder in layout.folders()):
            os.makedirs(folder, exist_ok=True)
        writer.transition(SecondaryStatus.DOWNLOADING)
        channels = self.contract.channels(spec)
        shared_dir = str(job_dir / "shared")
        gunzip = self.contract.gunzipped(spec)
        staged = stage_channels(channels, hosts, layouts, shared_dir, self.store_for, listings, gunzip=gunzip)
        record.inputs = staged.inputs
        for host in here:
            files = self.contract.config_files(spec, job_name, self.region, hosts, host)
            for name, content in files.items():
                Path(layouts[host].config_dir, name).write_text(content)
        # What is kept in step with a prefix while the hosts run (training's checkpoints, Continuous outputs).
        syncs = self.contract.live_syncs(
            spec, {h: layouts[h] for h in here}, self.store_for, self.checkpoint_interval_s
        )
        # The reaper removes a job's containers past this time, even if its agent and Airflow are gone.
        deadline_epoch_s = time.time() + spec.max_runtime_s + contract.STOP_GRACE_TRAINING_S + DEADLINE_MARGIN_S
        run_labels = labels.owned(self.contract.kind.name, job_name, owner, deadline=str(int(deadline_epoch_s)))
        addresses: dict[str, str] = dict(self.placement.peer_addresses)
        if network:
            created = self.engine.create_network(network, run_labels, internal=spec.enable_network_isolation)
            addresses = self.engine.host_addresses(created, hosts)
        entrypoint, command = self.contract.command(spec)
        environment = {**self.contract.environment(spec, job_name, self.region), **self.read_secrets()}
        title = self.contract.kind.title
        if self._interrupted.is_set():
            raise JobInterrupted(f"{title} {job_name} was interrupted before its containers started")
        if self._stop_requested.is_set():
            raise StopRequested(f"{title} {job_name} was stopped before its containers started")
        writer.transition(SecondaryStatus.TRAINING)
        # One isolated host has no one to talk to: no network at all, on an instance's engine too.
        isolated_alone = spec.enable_network_isolation and len(hosts) == 1
        runs = {
            host: functools.partial(
                self.engine.run,
                name=container_name(job_name, host),
                image=image.image_id,
                command=command,
                entrypoint=entrypoint,
                environment=environment,
                mounts=layouts[host].mounts(staged.sources[host]),
                labels={**run_labels, labels.HOST: host},
                network="host" if self.placement.host_network and not isolated_alone else network,
                hostname=host,
                resources=resources[host],
                network_disabled=isolated_alone,
                address=addresses.get(host) if network else None,
                # On the host network a container's own name is not in /etc/hosts unless we put it there.
                extra_hosts={h: a for h, a in addresses.items() if h != host or self.placement.host_network},
            )
            for host in here
        }
        # The hosts start together (the engine serves round trips in parallel); a failed start fails the job.
        containers = in_parallel(runs)
        sink(f"{title} {job_name}: {len(here)} of {len(hosts)} host(s) started here from {spec.image_uri}")
        for sync in syncs:
            sync.start()
        scanner = MetricScanner(getattr(spec, "metric_definitions", ()))  # a training option
        self._watcher = HostWatcher(self.engine, containers, scanner, sink)
        if self._stop_requested.is_set():
            self._watcher.stop()
        with LiveMetrics(writer, self._watcher.metric_series, LIVE_METRICS_INTERVAL_S):  # the curve so far
            watched = self._watcher.watch(spec.max_runtime_s)
        if network:  # the hosts here have exited: their network goes while the outputs are exported
            self._network_removal = in_background(lambda: self.engine.remove_network(network))
        for sync in syncs:
            sync.stop()
        remote_reasons = {} if self._interrupted.is_set() else self.export.collect(watched, job_dir)
        if self._interrupted.is_set():  # here, or (collect found) on another host
            return self._interrupted_end(writer, containers, sink)
        record.exit_codes = watched.exit_codes
        record.exit_message = self.contract.exit_message({h: layouts[h] for h in here})
        record.metrics = scanner.final()
        record.metric_series = scanner.series
        status, secondary = status_for_exit(
            watched.worst_exit_code,
            max_runtime_exceeded=watched.max_runtime_exceeded,
            stopped=watched.stopped,
        )
        if status != JobStatus.COMPLETED:
            record.failure_reason = failure_reason_of(
                {h: layouts[h] for h in here}, remote_reasons, watched, max_runtime_s=spec.max_runtime_s
            )
            failed_host = next((h for h, c in sorted(watched.exit_codes.items()) if c != 0), here[0])
            self._log_tail = self.engine.log_tail(containers[failed_host]) if failed_host in containers else ""
        # Training keeps what a stopped job saved, as SageMaker does; a failed job uploads nothing.
        if self.contract.uploads(status, watched):
            writer.transition(SecondaryStatus.UPLOADING)
            record.artifacts = self.export.export(
                spec, job_dir, {h: layouts[h] for h in here}, self.contract.job_uri(spec, job_name)
            )
        # The containers go before the final record, so a terminal record means nothing of the job still runs.
        self._remove_all(containers.values())
        record.ended_at = utc_now_iso()
        writer.transition(secondary, status)
        sink(f"{title} {job_name} ended {secondary}; metrics {record.metrics}")
        return record

    def _interrupted_end(self, writer: RecordWriter, containers: dict[str, Any], sink: LogSink) -> JobRecord:
        """End an interrupted run: remove the containers and leave the record InProgress, to be resumed.

        :param writer: the job record's writer.
        :param containers: host -> its container.
        :param sink: receives progress.
        """
        self._remove_all(containers.values())
        writer.transition(INTERRUPTED)
        sink(
            f"{self.contract.kind.title} {writer.record.job_name} was interrupted; its checkpoints are saved for a resume"
        )
        return writer.record

    def _fail(self, writer: RecordWriter, err: BaseException) -> None:
        """Record an error that ended the job before its containers did; never hides err.

        :param writer: the job record's writer.
        :param err: the error.
        """
        if writer.record.status != JobStatus.IN_PROGRESS:
            return
        interrupted = isinstance(err, JobInterrupted)
        if not interrupted:
            writer.record.failure_reason = contract.failure_reason(str(err) or type(err).__name__)
            writer.record.ended_at = utc_now_iso()
        stopped = isinstance(err, KeyboardInterrupt | SystemExit | StopRequested)
        try:
            if interrupted:
                writer.transition(INTERRUPTED)  # stays InProgress: a relaunched host resumes the job
                return
            writer.transition(
                SecondaryStatus.STOPPED if stopped else SecondaryStatus.FAILED,
                JobStatus.STOPPED if stopped else JobStatus.FAILED,
            )
        except MlLifecycleError as write_err:
            log.error("Could not record the failure of %s: %s", writer.record.job_name, write_err)

    def _remove_all(self, containers: Iterable[Any]) -> None:
        """Remove containers in parallel; raises the first error once every removal has ended.

        :param containers: the containers.
        """
        in_parallel({str(index): functools.partial(self.engine.remove, c) for index, c in enumerate(containers)})

    def _clean_up(self, job_name: str, hosts: list[str], job_dir: Path, network: str | None) -> None:
        """Remove the containers of the hosts here, the network and the working folder; errors are logged, never raised.

        :param job_name: the job's name.
        :param hosts: the hosts that ran here.
        :param job_dir: the job's working folder.
        :param network: the job's network, or None.
        """
        for action in (
            lambda: self._remove_all(
                c for c in self.engine.containers({labels.JOB: job_name}) if (c.labels or {}).get(labels.HOST) in hosts
            ),
            lambda: network and not succeeded(self._network_removal) and self.engine.remove_network(network),
            lambda: shutil.rmtree(job_dir, ignore_errors=True),
        ):
            try:
                action()
            except Exception as err:
                log.warning("Cleanup of %s: %s", job_name, err)
