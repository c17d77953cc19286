"""The parts of an EC2 transform host: the split of the inputs across instances, and algo-1's merge of the results."""

from __future__ import annotations

import boto3
import pytest
from support.moto import moto_server  # noqa: F401

from ml_lifecycle.agent.instance.transform_merge import failed_result, merge_results, wait_for_results
from ml_lifecycle.agent.instance.transform_share import host_share
from ml_lifecycle.compute.records import RecordWriter
from ml_lifecycle.core.sharding import shard_round_robin
from ml_lifecycle.core.status import JobRecord
from ml_lifecycle.core.uris import parse_uri
from ml_lifecycle.stores import store_for

HOSTS = ["algo-1", "algo-2", "algo-3"]


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_instances_split_the_inputs_as_local_hosts_do(count):
    objects = [f"key-{i:02d}" for i in range(count)]
    shares = [host_share(objects, HOSTS, host) for host in HOSTS]  # type: ignore[arg-type]

    assert shares == shard_round_robin(objects, len(HOSTS))
    assert sorted(o for share in shares for o in share) == objects


def _result(status: str, reason: str = "", records: float = 0.0, digest: str = "") -> JobRecord:
    """Make a host's final result.

    :param status: Completed or Failed.
    :param reason: the failure reason.
    :param records: records transformed.
    :param digest: the image digest.
    """
    return JobRecord(
        job_name="job",
        kind="transform",
        status=status,
        secondary_status=status,
        failure_reason=reason,
        metrics={"records": records, "bytes": records * 10},
        image_digest=digest,
    )


@pytest.mark.parametrize(
    ("results", "reason", "exit_codes"),
    [
        ({"algo-1": _result("Completed"), "algo-2": _result("Completed")}, "", {"algo-1": 0, "algo-2": 0}),
        (
            {"algo-1": _result("Completed"), "algo-2": _result("Failed", "bad.csv: HTTP 400: row 1")},
            "algo-2: bad.csv: HTTP 400: row 1",
            {"algo-1": 0, "algo-2": 1},
        ),
        (
            {"algo-2": failed_result("job", "algo-2", "lost"), "algo-1": _result("Failed", "a.csv: x; b.csv: y")},
            "algo-1: a.csv: x; b.csv: y; algo-2: lost",
            {"algo-1": 1, "algo-2": 1},
        ),
    ],
    ids=["all-completed", "a-file-failed", "both-failed"],
)
def test_the_job_record_names_every_failed_file_by_host(results, reason, exit_codes):
    record = merge_results(JobRecord(job_name="job", kind="transform"), results, "s3://b/out")

    assert (record.failure_reason, record.exit_codes) == (reason, exit_codes)
    assert record.artifacts == {"output": "s3://b/out"}
    assert record.ended_at


def test_metrics_add_up_and_the_digest_is_kept():
    results = {"algo-1": _result("Completed", records=3, digest="sha256:a"), "algo-2": _result("Completed", records=4)}

    record = merge_results(JobRecord(job_name="job", kind="transform"), results, "s3://b/out")

    assert record.metrics == {"records": 7.0, "bytes": 70.0}
    assert record.image_digest == "sha256:a"


def test_a_host_whose_instance_is_gone_is_failed_and_a_final_result_is_read(moto_server, monkeypatch):  # noqa: F811
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    s3.create_bucket(Bucket="merge-bucket")
    ec2 = boto3.client("ec2", endpoint_url=moto_server, region_name="us-east-1")

    def stores(uri):
        return store_for(uri, s3_client_factory=lambda: s3)

    staging = parse_uri("s3://merge-bucket/out/.ml-lifecycle/merge-job/staging")
    done_uri = staging.join("hosts", "algo-2", "result.json")
    RecordWriter(stores(done_uri), done_uri, _result("Completed", records=2)).save()
    monkeypatch.setattr("ml_lifecycle.agent.instance.transform_merge.LOST_GRACE_S", 0.0)

    results = wait_for_results(
        stores, staging, "merge-job", ["algo-2", "algo-3"], lambda: ec2, 4e9, sleep=lambda _s: None
    )

    assert results["algo-2"].status == "Completed"
    assert results["algo-3"].status == "Failed"
    assert "algo-3's instance ended before it handed in a result" in results["algo-3"].failure_reason
