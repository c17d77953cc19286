"""Run this instance's host of an EC2 training job: identity, peers, image, container, record, interruptions."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ml_lifecycle.agent.instance.aws_environment import instance_aws_environment
from ml_lifecycle.agent.instance.billing import MeteredRecordWriter, launch_started_epoch_s
from ml_lifecycle.agent.instance.host_context import open_host
from ml_lifecycle.agent.instance.host_engine import InstanceEngine
from ml_lifecycle.agent.instance.host_results import (
    RESULT_NAME,
    HostResultExport,
    PeerMergeExport,
    host_prefix,
    leader_check,
)
from ml_lifecycle.agent.instance.imds import InstanceIdentity, MetadataClient
from ml_lifecycle.agent.instance.interruptions import InterruptionWatch
from ml_lifecycle.agent.instance.peers import Peer, wait_for_peers
from ml_lifecycle.aws_clients import client_factory
from ml_lifecycle.compute.local.training.export import TrainingExport
from ml_lifecycle.compute.local.training.host_contract import TRAINING_CONTRACT, HostContract
from ml_lifecycle.compute.local.training.interruption import INTERRUPTED
from ml_lifecycle.compute.local.training.placement import HostPlacement
from ml_lifecycle.compute.local.training.runner import TrainingRunner
from ml_lifecycle.compute.records import RecordWriter, StoreFor, read_record
from ml_lifecycle.core import contract
from ml_lifecycle.core.clock import utc_now_iso
from ml_lifecycle.core.ec2.spec_documents import JobDocument
from ml_lifecycle.core.status import JobRecord, JobStatus, SecondaryStatus, is_terminal
from ml_lifecycle.core.uris import ArtifactUri, parse_uri
from ml_lifecycle.errors import JobFailed
from ml_lifecycle.secret_sources.values import resolve_secrets

log = logging.getLogger(__name__)

WORK_ROOT_ENV = "ML_LIFECYCLE_WORK_ROOT"
DEFAULT_WORK_ROOT = "/var/lib/ml-lifecycle"
STOP_REQUEST_NAME = "stop-requested"

EXIT_COMPLETED = 0
EXIT_FAILED = 1
EXIT_INTERRUPTED = 75  # EX_TEMPFAIL: the job is to be resumed on a relaunched instance

Sink = Callable[[str], None]


@dataclass(frozen=True)
class HostJob:
    """One host's view of a job: the document, who this instance is, and the job's instances.

    :param document: the job document.
    :param identity: this instance.
    :param peers: host -> instance, every host of the job (this one included).
    """

    document: JobDocument
    identity: InstanceIdentity
    peers: dict[str, Peer]

    @property
    def hosts(self) -> list[str]:
        """Every host of the job, algo-1..N."""
        return contract.host_names(self.document.instance_count)

    @property
    def is_leader(self) -> bool:
        """Whether this host writes the job record (algo-1)."""
        return self.identity.host == self.hosts[0]

    @property
    def staging_uri(self) -> ArtifactUri:
        """The job's staging prefix."""
        return parse_uri(self.document.staging_uri, "staging_uri")


def work_root() -> Path:
    """Return the folder under which jobs lay out /opt/ml (ML_LIFECYCLE_WORK_ROOT, default /var/lib/ml-lifecycle)."""
    return Path(os.environ.get(WORK_ROOT_ENV) or DEFAULT_WORK_ROOT)


def run_instance_agent(
    document_uri: str, sink: Sink, imds: MetadataClient | None = None, host_contract: HostContract = TRAINING_CONTRACT
) -> int:
    """Run this instance's host of the container job the document describes; return the process exit code.

    :param document_uri: the job document (``<staging>/job.json``).
    :param sink: receives progress and log lines (stdout and CloudWatch Logs).
    :param imds: the metadata client; None uses the instance's (or AWS_EC2_METADATA_SERVICE_ENDPOINT's).
    :param host_contract: what the kind of job puts in its hosts and takes out (default: training).
    """
    agent_started_epoch_s = time.time()
    host = open_host(document_uri, imds)
    identity, store_for, document = host.identity, host.store_for, host.document
    hosts = host.hosts("job")
    sink(f"Agent for {document.job_name}: {identity.host} on {identity.instance_id} ({identity.private_ip})")
    peers = {identity.host: Peer(identity.host, identity.instance_id, identity.private_ip)}
    try:
        if len(hosts) > 1:
            peers = wait_for_peers(client_factory("ec2", None, identity.region)(), document.job_name, hosts)
    except Exception as err:
        record_early_failure(store_for, HostJob(document, identity, peers), err)
        raise
    job = HostJob(document, identity, peers)
    return run_host(job, store_for, host.imds, sink, agent_started_epoch_s, host_contract)


def run_processing_agent(document_uri: str, sink: Sink, imds: MetadataClient | None = None) -> int:
    """Run this instance's host of a processing job; return the process exit code.

    :param document_uri: the job document (``<staging>/job.json``).
    :param sink: receives progress and log lines (stdout and CloudWatch Logs).
    :param imds: the metadata client; None uses the instance's.
    """
    from ml_lifecycle.compute.local.processing.contract import PROCESSING_CONTRACT

    return run_instance_agent(document_uri, sink, imds, PROCESSING_CONTRACT)


def record_early_failure(store_for: StoreFor, job: HostJob, err: Exception) -> None:
    """Record an error that ended this host before its runner started (algo-1: the job; others: their result).

    :param store_for: returns the store for a URI.
    :param job: this host's view of the job.
    :param err: the error (never hidden: a failure to record it is only logged).
    """
    uri = parse_uri(job.document.record_uri, "record_uri")
    if not job.is_leader:
        uri = host_prefix(job.staging_uri, job.identity.host).join(RESULT_NAME)
    try:
        record = (read_record(store_for(uri), uri) if job.is_leader else None) or JobRecord(
            job_name=job.document.job_name, kind=job.document.kind, created_at=utc_now_iso()
        )
        record.failure_reason = contract.failure_reason(str(err) or type(err).__name__)
        record.ended_at = utc_now_iso()
        record.agent.update(host=job.identity.host, instance_id=job.identity.instance_id)
        RecordWriter(store_for(uri), uri, record).transition(SecondaryStatus.FAILED, JobStatus.FAILED)
    except Exception as write_err:
        log.error("Could not record the failure of %s: %s", job.document.job_name, write_err)


def run_host(
    job: HostJob,
    store_for: StoreFor,
    imds: MetadataClient,
    sink: Sink,
    agent_started_epoch_s: float,
    host_contract: HostContract = TRAINING_CONTRACT,
) -> int:
    """Run this host's container through the TrainingRunner, watching for interruptions; return the exit code.

    :param job: this host's view of the job.
    :param store_for: returns the store for a URI.
    :param imds: the metadata client.
    :param sink: receives progress and log lines.
    :param agent_started_epoch_s: when this agent started, in epoch seconds.
    :param host_contract: what the kind of job puts in its hosts and takes out.
    """
    document, identity = job.document, job.identity
    record_uri = parse_uri(document.record_uri, "record_uri")
    if job.is_leader:
        record = read_record(store_for(record_uri), record_uri)
        if record is not None and is_terminal(record.status):
            sink(f"Job {document.job_name} ended {record.status} already; nothing to run")
            return EXIT_COMPLETED if record.status == JobStatus.COMPLETED else EXIT_FAILED
        if record is not None:
            sink(f"Resuming job {document.job_name} ({record.status}/{record.secondary_status})")
    else:
        record_uri = host_prefix(job.staging_uri, identity.host).join(RESULT_NAME)
        record = None  # each launch of another host hands in a fresh result
    record = record or JobRecord(job_name=document.job_name, kind=document.kind, created_at=utc_now_iso())
    started_epoch_s = launch_started_epoch_s(record, document.launched_at_epoch_s, agent_started_epoch_s)
    writer = MeteredRecordWriter(store_for(record_uri), record_uri, record, started_epoch_s)
    engine = InstanceEngine(ecr_client_for=lambda region: client_factory("ecr", None, region))
    placement = HostPlacement(
        hosts_here=(identity.host,),
        host_network=True,
        peer_addresses={host: peer.private_ip for host, peer in job.peers.items()},
        limit_resources=False,
    )
    runner = TrainingRunner(engine, store_for, work_root(), identity.region, placement, host_contract=host_contract)
    runner.agent = {"host": identity.host, "instance_id": identity.instance_id, "private_ip": identity.private_ip}
    # The instance's AWS settings, and its secrets read with the instance's role.
    runner.read_secrets = lambda: {
        **instance_aws_environment(),
        **resolve_secrets(document.spec.secrets, None, region=identity.region),
    }

    def interrupt(reason: str) -> None:
        sink(f"Interrupting {identity.host}: {reason}")
        writer.note_interruption()
        if isinstance(runner.export, PeerMergeExport):
            runner.export.cancelled.set()
        runner.interrupt()

    def stop(reason: str) -> None:
        sink(f"Stopping {identity.host}: {reason}")
        threading.Thread(target=runner.stop, daemon=True).start()

    runner.export, peer_check = _export_for(job, store_for, writer, interrupt, host_contract)
    watch = InterruptionWatch(
        imds, store_for(job.staging_uri), job.staging_uri.join(STOP_REQUEST_NAME), interrupt, stop, peer_check
    )
    # SIGTERM (the instance shutting down) stops the container gracefully, as on_kill does locally.
    signal.signal(signal.SIGTERM, lambda *_: stop("the agent received SIGTERM"))
    watch.start()
    try:
        final = runner.run(document.spec, document.job_name, document.owner, sink, None, writer)
    except JobFailed as err:
        sink(str(err))
        return EXIT_FAILED
    finally:
        watch.close()
    if final.secondary_status == INTERRUPTED:
        return EXIT_INTERRUPTED
    return EXIT_COMPLETED


def _export_for(
    job: HostJob,
    store_for: StoreFor,
    writer: MeteredRecordWriter,
    interrupt: Callable[[str], None],
    host_contract: HostContract,
) -> tuple[TrainingExport, Callable[[], str | None] | None]:
    """Choose how this host exports, and what it watches of the other hosts.

    :param job: this host's view of the job.
    :param store_for: returns the store for a URI.
    :param writer: this host's record writer.
    :param interrupt: interrupts this host.
    :param host_contract: the kind's contract (its export, and what each host hands in).
    """
    if job.is_leader:
        others = {host: peer for host, peer in job.peers.items() if host != job.identity.host}
        names = list(host_contract.layout(job.document.spec, "").host_outputs())
        merge = PeerMergeExport(
            host_contract.export(store_for),
            names,
            store_for,
            job.staging_uri,
            others,
            writer,
            job.document.deadline_epoch_s,
            interrupt,
        )
        return merge, (merge.peer_check if others else None)
    leader = job.peers[job.hosts[0]]
    return HostResultExport(store_for, job.staging_uri), leader_check(
        store_for, parse_uri(job.document.record_uri, "record_uri"), leader
    )
