"""algo-1 of an EC2 transform: wait for every host's result and write the job's single record from them."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from ml_lifecycle.agent.instance.peers import job_instances
from ml_lifecycle.agent.instance.transform_share import host_result_uri
from ml_lifecycle.compute.records import RecordWriter, StoreFor, read_record
from ml_lifecycle.core import contract
from ml_lifecycle.core.clock import utc_now_iso
from ml_lifecycle.core.status import JobRecord, JobStatus, SecondaryStatus, is_terminal
from ml_lifecycle.core.uris import ArtifactUri

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 2.0
# How long a host may be without a live instance and without a result before it counts as lost (S3's visibility of
# a result written just before its instance shut down).
LOST_GRACE_S = 30.0
SUMMED_METRICS = ("records", "records_per_s", "bytes")


def failed_result(job_name: str, host: str, reason: str) -> JobRecord:
    """Return a Failed result for a host that handed in none (lost, late, or failed before its runner started).

    :param job_name: the job's name.
    :param host: the host.
    :param reason: why, as the job record shows it.
    """
    now = utc_now_iso()
    return JobRecord(
        job_name=job_name,
        kind="transform",
        status=JobStatus.FAILED,
        secondary_status=SecondaryStatus.FAILED,
        created_at=now,
        ended_at=now,
        hosts=[host],
        failure_reason=contract.failure_reason(reason),
    )


def wait_for_results(
    store_for: StoreFor,
    staging_uri: ArtifactUri,
    job_name: str,
    hosts: list[str],
    ec2: Callable[[], Any],
    deadline_epoch_s: float,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, JobRecord]:
    """Poll the hosts' results until each is final, or its instance is gone, or the deadline passed; host -> result.

    :param store_for: returns the store for a URI.
    :param staging_uri: the job's staging prefix.
    :param job_name: the job's name.
    :param hosts: the hosts to wait for.
    :param ec2: builds an EC2 client (to see whether a host's instance still runs).
    :param deadline_epoch_s: when to stop waiting, in epoch seconds.
    :param sleep: waits between polls (seconds).
    """
    results: dict[str, JobRecord] = {}
    gone_since_s: dict[str, float] = {}
    while True:
        for host in hosts:
            if host in results:
                continue
            uri = host_result_uri(staging_uri, host)
            result = read_record(store_for(uri), uri)
            if result is not None and is_terminal(result.status):
                results[host] = result
        waiting = [host for host in hosts if host not in results]
        if not waiting:
            return results
        if time.time() > deadline_epoch_s:
            for host in waiting:
                results[host] = failed_result(job_name, host, f"{host} handed in no result before the deadline")
            return results
        alive = job_instances(ec2(), job_name)
        for host in waiting:
            if host in alive:
                gone_since_s.pop(host, None)
                continue
            since_s = gone_since_s.setdefault(host, time.monotonic())
            if time.monotonic() - since_s >= LOST_GRACE_S:
                results[host] = failed_result(
                    job_name, host, f"{host}'s instance ended before it handed in a result; see its log stream"
                )
        log.info("Waiting for the results of %s", ", ".join(h for h in hosts if h not in results))
        sleep(POLL_INTERVAL_S)


def merge_results(record: JobRecord, results: Mapping[str, JobRecord], output_uri: str) -> JobRecord:
    """Fold every host's result into the job record: Completed only when every host completed.

    :param record: the job record (updated in place and returned; its status is left to the caller's writer).
    :param results: host -> its final result.
    :param output_uri: the transform's output prefix.
    """
    reasons = []
    metrics: dict[str, float] = {}
    for host, result in sorted(results.items()):
        failed = result.status != JobStatus.COMPLETED
        record.exit_codes[host] = 1 if failed else 0
        if failed:
            reasons.append(f"{host}: {result.failure_reason or result.status}")
        for name in SUMMED_METRICS:
            if name in result.metrics:
                metrics[name] = round(metrics.get(name, 0.0) + float(result.metrics[name]), 1)
        record.image_digest = record.image_digest or result.image_digest
    record.metrics = metrics
    record.artifacts = {"output": output_uri}
    record.failure_reason = contract.failure_reason("; ".join(reasons))
    record.ended_at = utc_now_iso()
    return record


def write_final(writer: RecordWriter, results: Mapping[str, JobRecord], output_uri: str) -> JobRecord:
    """Merge the hosts' results into the job record and write it, Completed or Failed.

    :param writer: algo-1's writer of the job record.
    :param results: host -> its final result.
    :param output_uri: the transform's output prefix.
    """
    record = merge_results(writer.record, results, output_uri)
    if record.failure_reason:
        writer.transition(SecondaryStatus.FAILED, JobStatus.FAILED)
    else:
        writer.transition(SecondaryStatus.COMPLETED, JobStatus.COMPLETED)
    return record
