"""Data capture of an EC2 endpoint on emulated instances: the host runs the capturing proxy in front of its model,
and every sampled request lands exactly once in moto's S3 in SageMaker's layout, flushed when the endpoint is
deleted and when an update retires the old revision (its hosts stop and upload before their instances end; without
that the update test fails); at 0% nothing is written.

What moto does not do here: its load balancer routes no request, so the requests go to the instance's own serving
port (published by the emulator), which is the port the load balancer's target group calls; moto's S3 takes any
object from any credentials, so the instance role's permission on the destination is not checked.
"""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from support.capture_traffic import Sent, check_record, send
from support.ec2_fixtures import BUCKET, emulated_deploy
from support.helpers import task_context, wait_until

from ml_lifecycle import DeleteEndpointOperator
from ml_lifecycle.compute import backend_for

pytestmark = pytest.mark.docker

WAIT_S = 240.0
CLIENTS = 4
REQUESTS_PER_CLIENT = 50


def _answers_ping(port: int) -> bool:
    """Say whether the instance's serving port answers GET /ping with 200 (moto calls every instance healthy at once).

    :param port: the instance's serving port on this host.
    """
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=5) as answer:
            return answer.status == 200
    except OSError:
        return False


def _records(s3: Any, prefix: str) -> list[tuple[str, dict[str, Any]]]:
    """Return every capture record under a prefix with its object's key.

    :param s3: the S3 client.
    :param prefix: the key prefix.
    """
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    keys = sorted(item["Key"] for page in pages for item in page.get("Contents", []))
    return [
        (key, json.loads(line))
        for key in keys
        for line in s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode().splitlines()
    ]


@pytest.mark.parametrize("percent", [100, 0])
def test_every_sampled_request_lands_in_s3_exactly_once_and_zero_percent_writes_nothing(
    aws: Any, emulator: Any, pushed_image: str, tmp_path: Path, ml_home: Path, percent: int
) -> None:
    name = f"capec2-{uuid.uuid4().hex[:8]}"
    deploy = emulated_deploy(
        aws,
        name,
        pushed_image,
        tmp_path,
        data_capture={
            "EnableCapture": True,
            "InitialSamplingPercentage": percent,
            "DestinationS3Uri": f"s3://{BUCKET}/capture",
            "CaptureOptions": [{"CaptureMode": "InputAndOutput"}],
            "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
        },
    )
    deleted = False
    try:
        deploy.execute(task_context())
        (instance,) = emulator.wait_booted(1)
        wait_until(lambda: _answers_ping(instance.serving_port), "the instance's model answering /ping", WAIT_S)
        url = f"http://127.0.0.1:{instance.serving_port}"
        results: list[list[Sent]] = [[] for _ in range(CLIENTS)]

        def client(index: int) -> None:
            results[index] = send(url, f"c{index}", REQUESTS_PER_CLIENT, keep_alive=index % 2 == 0)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        view = backend_for("ec2", "aws_default").endpoints().describe(name)
        DeleteEndpointOperator(task_id="delete", endpoint_name=name, compute="ec2").execute(task_context())
        deleted = True
    finally:
        if not deleted:
            DeleteEndpointOperator(task_id="delete", endpoint_name=name, compute="ec2").execute(task_context())

    sent = {s.inference_id: s for batch in results for s in batch}
    assert len(sent) == CLIENTS * REQUESTS_PER_CLIENT and {s.status for s in sent.values()} == {200}
    assert view is not None and view.details.get("capture_lost") == "0", view
    records = _records(aws.s3, f"capture/{name}/")
    if percent == 0:
        assert records == []
        return
    assert sorted(r["eventMetadata"]["inferenceId"] for _, r in records) == sorted(sent), "each request once"
    for key, record in records:
        check_record(PurePosixPath(key), record, PurePosixPath("capture"), name, sent)


def test_an_update_flushes_the_old_revisions_capture_before_its_instance_ends(
    aws: Any, emulator: Any, pushed_image: str, tmp_path: Path, ml_home: Path
) -> None:
    name = f"capupd-{uuid.uuid4().hex[:8]}"
    capture = {
        "EnableCapture": True,
        "InitialSamplingPercentage": 100,
        "DestinationS3Uri": f"s3://{BUCKET}/capture",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
    }
    try:
        emulated_deploy(aws, name, pushed_image, tmp_path, data_capture=capture).execute(task_context())
        (old,) = emulator.wait_booted(1)
        wait_until(lambda: _answers_ping(old.serving_port), "the first revision's model answering /ping", WAIT_S)
        before = send(f"http://127.0.0.1:{old.serving_port}", "before", 60, keep_alive=True)
        emulated_deploy(aws, name, pushed_image, tmp_path, data_capture=capture).execute(task_context())  # blue/green
        assert old.terminated_by == "ec2" or emulator.wait_ended(old) == "ec2"
        (new,) = [i for i in emulator.wait_booted(2) if i.instance_id != old.instance_id]
        wait_until(lambda: _answers_ping(new.serving_port), "the second revision's model answering /ping", WAIT_S)
        after = send(f"http://127.0.0.1:{new.serving_port}", "after", 60, keep_alive=True)
    finally:
        DeleteEndpointOperator(task_id="delete", endpoint_name=name, compute="ec2").execute(task_context())

    sent = {s.inference_id: s for s in before + after}
    assert {s.status for s in sent.values()} == {200}
    records = _records(aws.s3, f"capture/{name}/")
    # The old revision's records were held by its proxy (sealed only every 30 s) when the update ended it.
    assert sorted(r["eventMetadata"]["inferenceId"] for _, r in records) == sorted(sent), "each request once"
    for key, record in records:
        check_record(PurePosixPath(key), record, PurePosixPath("capture"), name, sent)
