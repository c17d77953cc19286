"""One deploy or delete of an EC2 endpoint at a time: the lease in S3, against a moto server, and its rules."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from support.helpers import task_context

from ml_lifecycle import DeployEndpointOperator
from ml_lifecycle.compute.ec2.endpoint_lock import EndpointBusy, EndpointLease, describe_holder, may_take_over
from ml_lifecycle.core.uris import parse_uri

BUCKET = "endpoint-leases"
RUN_A = {"ml-lifecycle.dag-id": "serve", "ml-lifecycle.run-id": "a", "ml-lifecycle.task-id": "deploy"}
RUN_A_TEARDOWN = {**RUN_A, "ml-lifecycle.task-id": "delete"}
RUN_B = {**RUN_A, "ml-lifecycle.run-id": "b"}
NOW_S = 1_000_000.0


@pytest.mark.parametrize(
    ("current", "holder", "allowed"),
    [
        ({"holder": RUN_A, "expires_at_s": NOW_S + 60}, RUN_B, False),
        ({"holder": RUN_A, "expires_at_s": NOW_S - 1}, RUN_B, True),
        ({"holder": RUN_A, "expires_at_s": NOW_S}, RUN_B, True),
        ({"holder": RUN_A, "expires_at_s": NOW_S + 60}, RUN_A, True),
        ({"holder": RUN_A, "expires_at_s": NOW_S + 60}, RUN_A_TEARDOWN, True),
        ({"holder": RUN_A, "expires_at_s": NOW_S + 60}, {}, False),
        ({"holder": {}, "expires_at_s": NOW_S + 60}, {}, False),
        ({"holder": RUN_A}, RUN_B, True),
        ({"holder": RUN_A, "expires_at_s": "soon"}, RUN_B, True),
        ({}, RUN_B, True),
    ],
    ids=[
        "other-run-held",
        "other-run-lapsed",
        "lapses-now",
        "same-task-retry",
        "same-run-teardown",
        "anonymous-asker",
        "anonymous-holder",
        "no-expiry",
        "bad-expiry",
        "empty",
    ],
)
def test_who_may_take_a_held_lease(current: dict[str, Any], holder: dict[str, str], allowed: bool) -> None:
    assert may_take_over(current, holder, NOW_S) is allowed


def test_the_holder_is_described_for_the_error() -> None:
    text = describe_holder({"holder": RUN_A, "expires_at_s": 0})
    assert text == "dag-id serve, run-id a, task-id deploy (lease until 1970-01-01T00:00:00Z)"
    assert describe_holder({}).startswith("an unknown task")


@pytest.fixture
def s3(moto_server: str) -> Iterator[Any]:
    """An S3 client on moto with the test bucket."""
    client = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    yield client


def _lease(s3: Any, holder: dict[str, str], name: str, lease_s: int = 600) -> EndpointLease:
    return EndpointLease(s3, parse_uri(f"s3://{BUCKET}/endpoints/{name}"), name, holder, lease_s)


def _stored(s3: Any, name: str) -> dict[str, Any] | None:
    try:
        return json.loads(s3.get_object(Bucket=BUCKET, Key=f"endpoints/{name}/lock.json")["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None


def test_a_second_run_is_refused_while_the_first_holds_the_lease_then_may_take_it(s3) -> None:
    name = f"ep-{uuid.uuid4().hex[:8]}"
    with _lease(s3, RUN_A, name):
        assert _stored(s3, name)["holder"] == RUN_A
        with pytest.raises(EndpointBusy) as caught:
            _lease(s3, RUN_B, name).acquire()
        message = str(caught.value)
        assert f"Endpoint {name} is being deployed or deleted by dag-id serve, run-id a" in message
        assert f"delete s3://{BUCKET}/endpoints/{name}/lock.json" in message
    assert _stored(s3, name) is None
    with _lease(s3, RUN_B, name):
        assert _stored(s3, name)["holder"] == RUN_B


def test_a_retry_of_the_same_run_takes_over_and_the_old_holder_cannot_release_it(s3) -> None:
    name = f"ep-{uuid.uuid4().hex[:8]}"
    dead = _lease(s3, RUN_A, name)
    dead.acquire()  # its task died without giving it back
    retry = _lease(s3, RUN_A_TEARDOWN, name)
    retry.acquire()
    assert _stored(s3, name)["holder"] == RUN_A_TEARDOWN
    dead.release()  # a late release of the old try must not free the new holder's lease
    assert _stored(s3, name)["holder"] == RUN_A_TEARDOWN
    retry.release()
    assert _stored(s3, name) is None


def test_a_lapsed_lease_is_taken_over_by_another_run(s3) -> None:
    name = f"ep-{uuid.uuid4().hex[:8]}"
    _lease(s3, RUN_A, name, lease_s=1).acquire()
    deadline = time.monotonic() + 30
    while True:
        try:
            _lease(s3, RUN_B, name).acquire()
            break
        except EndpointBusy:
            if time.monotonic() > deadline:
                pytest.fail("the lapsed lease was never taken over")
            time.sleep(0.2)
    assert _stored(s3, name)["holder"] == RUN_B


def test_an_unreadable_lease_counts_as_lapsed(s3) -> None:
    name = f"ep-{uuid.uuid4().hex[:8]}"
    s3.put_object(Bucket=BUCKET, Key=f"endpoints/{name}/lock.json", Body=b"not json")
    with _lease(s3, RUN_B, name):
        assert _stored(s3, name)["holder"] == RUN_B


def test_a_deploy_of_a_held_endpoint_fails_before_launching_anything(s3, moto_server, monkeypatch) -> None:
    connection = {"conn_type": "aws", "extra": {"endpoint_url": moto_server, "region_name": "us-east-1"}}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))
    name = f"ep-{uuid.uuid4().hex[:8]}"
    s3.put_object(Bucket=BUCKET, Key="models/v1/model.tar.gz", Body=b"model")
    ec2 = boto3.client("ec2", endpoint_url=moto_server, region_name="us-east-1")
    with _lease(s3, RUN_B, name):
        operator = DeployEndpointOperator(
            task_id="deploy",
            endpoint_name=name,
            image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/serve@sha256:" + "b" * 64,
            model_uri=f"s3://{BUCKET}/models/v1/model.tar.gz",
            state_uri=f"s3://{BUCKET}/endpoints/{name}",
            compute="ec2",
        )
        with pytest.raises(EndpointBusy, match=f"Endpoint {name} is being deployed or deleted by"):
            operator.execute(task_context(dag_id="serve", run_id="other-run"))
    tagged = ec2.describe_instances(Filters=[{"Name": "tag:ml-lifecycle.endpoint", "Values": [name]}])
    assert tagged["Reservations"] == []
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"endpoints/{name}/")
    assert listed.get("KeyCount", 0) == 0  # no state written, and the lease given back


def test_a_delete_waits_for_another_runs_deploy_but_not_for_its_own_runs(s3, moto_server, monkeypatch) -> None:
    from ml_lifecycle.compute import backend_for
    from ml_lifecycle.compute.ec2.endpoint_state import EndpointState

    connection = {"conn_type": "aws", "extra": {"endpoint_url": moto_server, "region_name": "us-east-1"}}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))
    name = f"ep-{uuid.uuid4().hex[:8]}"
    options = {"poll_interval_s": 0.2, "state_uri": f"s3://{BUCKET}/endpoints/{name}"}
    endpoints = backend_for("ec2", "aws_default", options).endpoints()
    state = EndpointState(name, "Failed", "us-east-1").to_dict()
    s3.put_object(Bucket=BUCKET, Key=f"endpoints/{name}/state.json", Body=json.dumps(state).encode())
    lines: list[str] = []
    with _lease(s3, RUN_A, name):
        with pytest.raises(EndpointBusy, match="run-id a"):
            endpoints.delete(name, RUN_B, lines.append)
        assert _stored(s3, name)["holder"] == RUN_A
    dead = _lease(s3, RUN_A, name)
    dead.acquire()  # the deploy of run a died holding it; run a's teardown deletes anyway
    endpoints.delete(name, RUN_A_TEARDOWN, lines.append)
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix=f"endpoints/{name}/").get("KeyCount", 0) == 0
    assert lines == [
        f"Endpoint {name} deleted: "
        + str(
            {
                "gateways": 0,
                "load_balancers": 0,
                "auto_scaling_groups": 0,
                "instances": 0,
                "target_groups": 0,
                "security_groups": 0,
            }
        )
    ]


@pytest.mark.parametrize(
    ("code", "status", "lost"),
    [
        ("PreconditionFailed", 412, True),
        ("ConditionalRequestConflict", 409, True),
        ("NoSuchKey", 404, True),
        ("", 412, True),
        ("AccessDenied", 403, False),
        ("InternalError", 500, False),
    ],
)
def test_which_s3_errors_mean_another_writer_came_first(code: str, status: int, lost: bool) -> None:
    from botocore.exceptions import ClientError

    from ml_lifecycle.compute.ec2.endpoint_lock import _lost_race

    err = ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "PutObject")
    assert _lost_race(err) is lost
