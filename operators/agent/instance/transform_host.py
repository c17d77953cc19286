"""Run this instance's host of an EC2 batch transform: its share of the inputs, then (algo-1) the job record."""

from __future__ import annotations

import logging
from collections.abc import Callable

from ml_lifecycle.agent.instance.aws_environment import instance_aws_environment
from ml_lifecycle.agent.instance.host_context import open_host
from ml_lifecycle.agent.instance.host_engine import InstanceEngine
from ml_lifecycle.agent.instance.imds import InstanceIdentity, MetadataClient
from ml_lifecycle.agent.instance.runner import EXIT_COMPLETED, EXIT_FAILED, work_root
from ml_lifecycle.agent.instance.transform_merge import failed_result, wait_for_results, write_final
from ml_lifecycle.agent.instance.transform_share import INSTANCE_LABEL, HostTransformRunner, host_result_uri
from ml_lifecycle.aws_clients import client_factory
from ml_lifecycle.compute.records import RecordWriter, StoreFor, read_record
from ml_lifecycle.core import contract
from ml_lifecycle.core.clock import utc_now_iso
from ml_lifecycle.core.ec2.spec_documents import JobDocument
from ml_lifecycle.core.specs import TransformSpec
from ml_lifecycle.core.status import JobRecord, JobStatus, SecondaryStatus
from ml_lifecycle.core.uris import ArtifactUri, parse_uri
from ml_lifecycle.errors import TransformFailed
from ml_lifecycle.secret_sources.values import resolve_secrets

log = logging.getLogger(__name__)

Sink = Callable[[str], None]


def run_transform_host(document_uri: str, sink: Sink, imds: MetadataClient | None = None) -> int:
    """Transform this host's share of the inputs; on algo-1 also write the job record from every host's result.

    :param document_uri: the job document (``<staging>/job.json``).
    :param sink: receives progress and log lines (stdout and CloudWatch Logs).
    :param imds: the metadata client; None uses the instance's (or AWS_EC2_METADATA_SERVICE_ENDPOINT's).
    """
    host = open_host(document_uri, imds)
    identity, store_for, document = host.identity, host.store_for, host.document
    hosts = host.hosts("transform")
    sink(f"Transform agent for {document.job_name}: {identity.host} on {identity.instance_id}")
    writer = _start_record(store_for, document, identity) if identity.host == hosts[0] else None
    try:
        own = run_share(store_for, document, identity, sink)
        if writer is None:  # another host: algo-1 reads the result it handed in
            return EXIT_COMPLETED if own.status == JobStatus.COMPLETED else EXIT_FAILED
        results = {identity.host: own}
        if len(hosts) > 1:
            sink(f"Waiting for the results of {', '.join(hosts[1:])}")
            ec2 = client_factory("ec2", None, identity.region)
            staging = parse_uri(document.staging_uri, "staging_uri")
            results.update(
                wait_for_results(store_for, staging, document.job_name, hosts[1:], ec2, document.deadline_epoch_s)
            )
        record = write_final(writer, results, document.spec.output_uri)
    except Exception as err:
        if writer is not None:
            _record_failure(writer, err)
        raise
    sink(f"Transform {document.job_name} {record.status}: {record.failure_reason or record.metrics}")
    return EXIT_COMPLETED if record.status == JobStatus.COMPLETED else EXIT_FAILED


def run_share(store_for: StoreFor, document: JobDocument, identity: InstanceIdentity, sink: Sink) -> JobRecord:
    """Transform this host's share and return its final result (also handed in under staging, whatever happens).

    :param store_for: returns the store for a URI.
    :param document: the job document.
    :param identity: this instance.
    :param sink: receives progress lines.
    """
    spec: TransformSpec = document.spec
    result_uri = host_result_uri(parse_uri(document.staging_uri, "staging_uri"), identity.host)
    engine = InstanceEngine(ecr_client_for=lambda region: client_factory("ecr", None, region))
    runner = HostTransformRunner(engine, store_for, work_root(), identity.host, identity.instance_id, result_uri)
    # The instance's AWS settings, and its secrets read with the instance's role.
    runner.read_secrets = lambda: {
        **instance_aws_environment(),
        **resolve_secrets(spec.secrets, None, region=identity.region),
    }
    try:
        # The same listing and split as the local runner, so N instances share the work as N local hosts do.
        mine, total = runner.choose_share(spec, contract.host_names(document.instance_count))
    except Exception as err:
        return _hand_in(store_for, result_uri, failed_result(document.job_name, identity.host, str(err)))
    sink(f"{identity.host} transforms {mine} of {total} input objects")
    if not mine:
        done = JobRecord(job_name=document.job_name, kind="transform", created_at=utc_now_iso(), ended_at=utc_now_iso())
        done.status, done.secondary_status = JobStatus.COMPLETED, SecondaryStatus.COMPLETED
        return _hand_in(store_for, result_uri, done)
    try:
        return runner.run(spec, document.job_name, {**document.owner, INSTANCE_LABEL: identity.instance_id}, sink)
    except TransformFailed as err:  # the runner handed in its result, naming the failed files
        sink(str(err))
    except Exception as err:  # the runner handed in its result with the reason
        log.exception("%s failed", identity.host)
        sink(f"{identity.host} failed: {err}")
    result = read_record(store_for(result_uri), result_uri)
    if result is None or result.status == JobStatus.IN_PROGRESS:
        result = _hand_in(store_for, result_uri, failed_result(document.job_name, identity.host, "see its log"))
    return result


def _start_record(store_for: StoreFor, document: JobDocument, identity: InstanceIdentity) -> RecordWriter:
    """Write the job record InProgress (algo-1 is its only writer) and return its writer.

    :param store_for: returns the store for a URI.
    :param document: the job document.
    :param identity: this instance (algo-1).
    """
    uri = parse_uri(document.record_uri, "record_uri")
    record = JobRecord(
        job_name=document.job_name,
        kind="transform",
        created_at=utc_now_iso(),
        hosts=contract.host_names(document.instance_count),
        image_uri=document.spec.image_uri,
        owner=dict(document.owner),
        agent={"host": identity.host, "instance_id": identity.instance_id, "private_ip": identity.private_ip},
    )
    writer = RecordWriter(store_for(uri), uri, record)
    writer.transition(SecondaryStatus.STARTING, JobStatus.IN_PROGRESS)
    return writer


def _record_failure(writer: RecordWriter, err: Exception) -> None:
    """Record an error that ended algo-1 before the job record was final; a failure to write it is only logged.

    :param writer: algo-1's writer of the job record.
    :param err: the error (the caller raises it again: it is never hidden).
    """
    try:
        writer.record.failure_reason = contract.failure_reason(f"algo-1: {err}" if str(err) else type(err).__name__)
        writer.record.ended_at = utc_now_iso()
        writer.transition(SecondaryStatus.FAILED, JobStatus.FAILED)
    except Exception as write_err:
        log.error("Could not record the failure of %s: %s", writer.record.job_name, write_err)


def _hand_in(store_for: StoreFor, result_uri: ArtifactUri, result: JobRecord) -> JobRecord:
    """Write a host's final result where algo-1 reads it and return it.

    :param store_for: returns the store for a URI.
    :param result_uri: the host's result.
    :param result: the final result.
    """
    writer = RecordWriter(store_for(result_uri), result_uri, result)
    writer.transition(result.secondary_status)
    return result
