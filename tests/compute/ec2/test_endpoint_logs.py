"""An EC2 endpoint's log, as its instances ship it to CloudWatch Logs (``<endpoint>/<instance id>`` streams of
/aws/ml-lifecycle/Endpoints), read back by instance, against moto."""

from __future__ import annotations

import contextlib
import time

import boto3

from ml_lifecycle.compute.ec2.endpoint_backend import Ec2EndpointBackend
from ml_lifecycle.core.ec2.spec_documents import LOG_GROUPS


def test_each_instances_lines_come_back_under_its_id_and_other_endpoints_stay_out(moto_server):
    logs = boto3.client("logs", endpoint_url=moto_server, region_name="us-east-1")
    group = LOG_GROUPS["endpoint"]
    logs.create_log_group(logGroupName=group)
    written = {"ep/i-0a": ["started", "GET /ping 200"], "ep/i-0b": ["started"], "other/i-0c": ["not mine"]}
    for stream, lines in written.items():
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": int(time.time() * 1000) + i, "message": line} for i, line in enumerate(lines)],
        )
    backend = Ec2EndpointBackend(None, {}, lambda: logs, None)  # type: ignore[arg-type]  (logs needs no manager)

    assert backend.logs("ep") == {"i-0a": ["started", "GET /ping 200"], "i-0b": ["started"]}
    assert backend.logs("never-deployed") == {}


def test_a_group_not_created_yet_means_no_lines(moto_server):
    logs = boto3.client("logs", endpoint_url=moto_server, region_name="us-east-1")
    with contextlib.suppress(logs.exceptions.ResourceNotFoundException):
        logs.delete_log_group(logGroupName=LOG_GROUPS["endpoint"])
    assert Ec2EndpointBackend(None, {}, lambda: logs, None).logs("ep") == {}  # type: ignore[arg-type]
