"""The instance side of an EC2 endpoint: the agent, run as user data runs it, starts a ``serve`` container on the
instance's engine that answers /ping and /invocations on its port, reports it, ships its log, and ends on a stop."""

from __future__ import annotations

import http.client
import json
import tarfile
import time
from pathlib import PurePosixPath
from typing import Any

import pytest
from support.capture_traffic import check_format, decoded, send
from support.models import linear_model_archive
from support.moto import free_port

from ml_lifecycle.compute.local.endpoints.proxy_config import INVOCATION_LOG
from ml_lifecycle.core.data_capture import DataCapture
from ml_lifecycle.core.ec2.spec_documents import JobDocument
from ml_lifecycle.core.specs import EndpointSpec

pytestmark = pytest.mark.docker

BUCKET = "agent-bucket"


def _document(
    harness: Any,
    model_uri: str,
    image: str,
    environment: dict[str, str] | None = None,
    data_capture: DataCapture | None = None,
) -> tuple[str, EndpointSpec]:
    """Write an endpoint job document into the harness's staging prefix; return its URI and the spec."""
    spec = EndpointSpec(
        endpoint_name=f"ep-{harness.job_name[-8:]}",
        image_uri=image,
        model_uri=model_uri,
        environment=environment or {},
        startup_timeout_s=120,
        data_capture=data_capture,
    )
    now_s = time.time()
    document = JobDocument(
        job_name=harness.job_name,
        kind="endpoint",
        spec=spec,
        owner={"ml-lifecycle.dag-id": "agent_tests"},
        region="us-east-1",
        instance_count=1,
        deadline_epoch_s=int(now_s + 3600),
        log_group="/aws/ml-lifecycle/Endpoints",
        record_uri=f"s3://{BUCKET}/{harness.out_prefix}/status.json",
        staging_uri=f"s3://{BUCKET}/{harness.out_prefix}/staging",
        launched_at_epoch_s=now_s,
    )
    key = f"{harness.out_prefix}/staging/job.json"
    harness.aws.s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(document.to_dict()).encode())
    return f"s3://{BUCKET}/{key}", spec


def _report(harness: Any, instance_id: str) -> dict[str, Any] | None:
    """Read the host's report, or None."""
    key = f"{harness.out_prefix}/staging/hosts/{instance_id}/endpoint-host.json"
    try:
        return json.loads(harness.object(key))
    except harness.aws.s3.exceptions.NoSuchKey:
        return None


def _request(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    """Send one request to the instance's serving port."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "text/csv"} if body else {})
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def test_the_host_serves_on_its_port_until_a_stop_request(harness, pushed_image, tmp_path, monkeypatch, docker_client):
    port = free_port()
    monkeypatch.setenv("ML_LIFECYCLE_SERVING_PORT", str(port))
    archive = tmp_path / "model.tar.gz"
    linear_model_archive(archive, [2.0, 3.0], intercept=1.0)
    harness.aws.s3.put_object(Bucket=BUCKET, Key=f"models/{harness.job_name}.tar.gz", Body=archive.read_bytes())
    document, spec = _document(harness, f"s3://{BUCKET}/models/{harness.job_name}.tar.gz", pushed_image)
    (instance,) = harness.launch(1)
    instance_id = instance.identity.instance_id

    agent = harness.start_agent(document, instance)
    report = harness.wait_until(lambda: _report(harness, instance_id), "the host's report")
    assert report["status"] == "InService", harness.log(agent)
    assert _request(port, "GET", "/ping")[0] == 200
    status, body = _request(port, "POST", "/invocations", b"1.0,1.0\n")
    assert status == 200 and body.strip(), body
    (container,) = docker_client.containers.list(filters={"label": f"ml-lifecycle.job={harness.job_name}"})
    assert container.attrs["HostConfig"]["RestartPolicy"]["Name"] == "on-failure"
    assert container.labels["ml-lifecycle.kind"] == "endpoint" and container.labels["ml-lifecycle.host"] == instance_id
    assert agent.poll() is None  # it stays to ship the container's log

    harness.aws.s3.put_object(Bucket=BUCKET, Key=f"{harness.out_prefix}/staging/stop-requested", Body=b"stop")
    assert harness.wait(agent, 60) == 0, harness.log(agent)
    assert docker_client.containers.list(all=True, filters={"label": f"ml-lifecycle.job={harness.job_name}"}) == []
    events = harness.aws.logs.get_log_events(
        logGroupName="/aws/ml-lifecycle/Endpoints",
        logStreamName=f"{spec.endpoint_name}/{instance_id}",
        startFromHead=True,
    )["events"]
    assert events, "the container's log reached CloudWatch"


@pytest.mark.parametrize("ended_by", ["stop_request", "scale_in"])
def test_a_capturing_host_records_each_request_once_to_s3_through_the_proxy_and_flushes_on_stop(
    harness, pushed_image, tmp_path, monkeypatch, docker_client, ended_by
):
    port = free_port()
    monkeypatch.setenv("ML_LIFECYCLE_SERVING_PORT", str(port))
    archive = tmp_path / "model.tar.gz"
    linear_model_archive(archive, [1.0] * 8)  # send() posts 8 features
    harness.aws.s3.put_object(Bucket=BUCKET, Key=f"models/{harness.job_name}.tar.gz", Body=archive.read_bytes())
    capture = DataCapture(100, f"s3://{BUCKET}/capture", csv_content_types=("text/csv",))
    document, spec = _document(harness, f"s3://{BUCKET}/models/{harness.job_name}.tar.gz", pushed_image, None, capture)
    (instance,) = harness.launch(1)
    instance_id = instance.identity.instance_id

    agent = harness.start_agent(document, instance)
    report = harness.wait_until(lambda: _report(harness, instance_id), "the host's report")
    assert report["status"] == "InService", harness.log(agent)
    sent = send(f"http://127.0.0.1:{port}", "host", 40, keep_alive=True)
    containers = _job_containers(docker_client, harness.job_name)
    roles = {c.labels.get("ml-lifecycle.role", "model") for c in containers}
    (proxy,) = [c for c in containers if c.labels.get("ml-lifecycle.role") == "proxy"]
    # No invocation log on a host: its load balancer counts the requests, and nothing there would read or rotate it.
    assert proxy.exec_run(["test", "-e", INVOCATION_LOG]).exit_code == 1
    if ended_by == "scale_in":  # Auto Scaling ends the instance: no stop request, no SIGTERM yet
        instance.scale_in()
    else:
        harness.aws.s3.put_object(Bucket=BUCKET, Key=f"{harness.out_prefix}/staging/stop-requested", Body=b"stop")
    assert harness.wait(agent, 120) == 0, harness.log(agent)
    if ended_by == "scale_in":  # moto's instance is in no group here (and moto has no CompleteLifecycleAction)
        assert "no lifecycle action to complete" in harness.log(agent)

    assert {s.status for s in sent} == {200} and roles == {"model", "proxy"}
    prefix = f"capture/{spec.endpoint_name}/"
    keys = [o["Key"] for o in harness.aws.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]
    records = [
        (key, json.loads(line)) for key in keys for line in harness.object(key).decode().splitlines()
    ]  # fmt: skip
    by_id = {s.inference_id: s for s in sent}
    assert sorted(r["eventMetadata"]["inferenceId"] for _, r in records) == sorted(by_id), "each request once"
    for key, record in records:
        check_format(PurePosixPath(key), record, PurePosixPath("capture"), spec.endpoint_name)
        assert decoded(record["captureData"]["endpointInput"]) == by_id[record["eventMetadata"]["inferenceId"]].body
    counters = json.loads(harness.object(f"{harness.out_prefix}/staging/hosts/{instance_id}/capture.json"))
    assert counters == {"capture_records": "40", "capture_lost": "0", "capture_last_error": "", "stopped": True}
    assert _job_containers(docker_client, harness.job_name) == []


def _job_containers(docker_client: Any, job_name: str) -> list[Any]:
    """Return the containers of a job on the engine (the model's and, when it captures, the proxy's).

    :param docker_client: the docker SDK client.
    :param job_name: the job.
    """
    return docker_client.containers.list(all=True, filters={"label": f"ml-lifecycle.job={job_name}"})


def test_a_host_that_cannot_serve_reports_why_and_fails(harness, pushed_image):
    document, _spec = _document(harness, f"s3://{BUCKET}/models/missing/model.tar.gz", pushed_image)
    (instance,) = harness.launch(1)

    agent = harness.start_agent(document, instance)
    assert harness.wait(agent, 120) == 1, harness.log(agent)
    report = _report(harness, instance.identity.instance_id)
    assert report["status"] == "Failed" and "model" in report["failure_reason"].lower(), report


def test_a_script_mode_model_serves_from_s3_with_awss_serving_stack_and_a_writable_code_folder(
    harness, pushed_serving_image, tmp_path, monkeypatch
):
    from support.serving_image import lifecycle_sources

    from ml_lifecycle.source_code.archive import SourceCode
    from ml_lifecycle.source_code.serving import ensure_repacked, plan_serving
    from ml_lifecycle.stores import store_factory

    port = free_port()
    monkeypatch.setenv("ML_LIFECYCLE_SERVING_PORT", str(port))
    monkeypatch.setenv("AWS_ENDPOINT_URL", harness.aws.endpoint)
    (tmp_path / "weights.json").write_text('{"scale": 3}')
    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "weights.json", arcname="weights.json")
    key = f"models/{harness.job_name}/model.tar.gz"
    harness.aws.s3.upload_file(str(tmp_path / "model.tar.gz"), BUCKET, key)
    source, helpers = lifecycle_sources(tmp_path)
    code = SourceCode("model.py", str(source), (str(helpers),))
    plan = plan_serving(f"s3://{BUCKET}/{key}", {}, code, lambda: "us-east-1", store_factory(None))
    ensure_repacked(plan, store_factory(None), lambda _: None, str(tmp_path / "scratch"))  # as the operator does
    document, _ = _document(harness, plan.model_uri, pushed_serving_image, plan.environment)
    (instance,) = harness.launch(1)

    agent = harness.start_agent(document, instance)
    report = harness.wait_until(lambda: _report(harness, instance.identity.instance_id), "the host's report")
    assert report["status"] == "InService", harness.log(agent)
    status, body = _request(port, "POST", "/invocations", b"1,2,3")
    # model_fn wrote into /opt/ml/model/code before it answered; tinypkg came from the folder's requirements.txt.
    assert (status, json.loads(body)) == (200, {"prediction": 18.0, "tiny": "tiny-ok", "helper": 42}), body
    harness.aws.s3.put_object(Bucket=BUCKET, Key=f"{harness.out_prefix}/staging/stop-requested", Body=b"stop")
    assert harness.wait(agent, 60) == 0, harness.log(agent)
