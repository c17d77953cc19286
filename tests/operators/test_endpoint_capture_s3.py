"""Data capture of local endpoints to an S3 destination (moto): the proxy spools and seals files, the endpoint's
uploader moves them while it serves and once more when it is deleted; every sampled request lands exactly once in
SageMaker's layout, 0% writes nothing, and a destination that refuses the files fails no request and counts the loss.

moto's S3 takes any object from any credentials: that the destination's policy lets the AWS connection write is
not checked here.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from support.capture_traffic import check_record, send
from support.helpers import task_context, wait_until
from support.models import linear_model_archive

from ml_lifecycle import DeleteEndpointOperator, DeployEndpointOperator
from ml_lifecycle.compute import backend_for
from ml_lifecycle.compute.local.endpoints import capture_config, capture_upload

pytestmark = pytest.mark.docker

BUCKET = "ml-bucket"
SEAL_AFTER_S = 0.5  # files are sealed and uploaded while the test runs, not only at the delete
WAIT_S = 60.0


@pytest.fixture
def endpoint_name(ml_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh endpoint name whose files are sealed every SEAL_AFTER_S, deleted after the test."""
    monkeypatch.setattr(capture_config, "SEAL_AFTER_S", SEAL_AFTER_S)
    name = f"cap3-{uuid.uuid4().hex[:8]}"
    yield name
    DeleteEndpointOperator(task_id="delete", endpoint_name=name).execute(task_context())


def _deploy(name: str, image: str, model: str, destination: str, percent: int) -> str:
    """Deploy an endpoint capturing input and output to destination; return its URL.

    :param name: the endpoint name.
    :param image: the serving image.
    :param model: the model URI.
    :param destination: DestinationS3Uri.
    :param percent: InitialSamplingPercentage.
    """
    capture = {
        "EnableCapture": True,
        "InitialSamplingPercentage": percent,
        "DestinationS3Uri": destination,
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
    }
    return str(
        DeployEndpointOperator(
            task_id="deploy", endpoint_name=name, image_uri=image, model_uri=model, data_capture=capture
        ).execute(task_context())["url"]
    )


def _objects(s3: Any, prefix: str) -> list[str]:
    """Return the keys under a prefix.

    :param s3: the S3 client.
    :param prefix: the key prefix.
    """
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def _records(s3: Any, prefix: str) -> list[tuple[str, dict[str, Any]]]:
    """Return every capture record under a prefix with the key of its object.

    :param s3: the S3 client.
    :param prefix: the key prefix.
    """
    found = []
    for key in _objects(s3, prefix):
        for line in s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode().splitlines():
            found.append((key, json.loads(line)))
    return found


def _details_when(name: str, check: Any) -> dict[str, str]:
    """Return the endpoint's capture counters once check accepts them (a wait that fails naming what it saw).

    :param name: the endpoint name.
    :param check: details -> bool.
    """
    endpoints = backend_for("local").endpoints()

    def details() -> dict[str, str]:
        view = endpoints.describe(name)
        found = dict(view.details) if view is not None else {}
        return found if check(found) else {}

    return wait_until(details, f"endpoint {name}'s capture counters as awaited", WAIT_S)


def test_every_request_lands_in_s3_exactly_once_while_serving_and_at_the_delete(
    example_image, tmp_path, s3, endpoint_name
):
    model = linear_model_archive(tmp_path / "m" / "model.tar.gz", [1.0] * 8)
    url = _deploy(endpoint_name, example_image, model, f"s3://{BUCKET}/capture", 100)
    first: list[Any] = []
    threads = [threading.Thread(target=lambda i=i: first.extend(send(url, f"c{i}", 100, i < 2))) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    details = _details_when(endpoint_name, lambda d: d.get("capture_records") == "400")
    uploaded_while_serving = {r["eventMetadata"]["inferenceId"] for _, r in _records(s3, f"capture/{endpoint_name}/")}
    last = send(url, "last", 30, keep_alive=True)  # still in the proxy's memory or spool when the delete comes
    DeleteEndpointOperator(task_id="delete", endpoint_name=endpoint_name).execute(task_context())

    assert details["capture_lost"] == "0" and uploaded_while_serving == {s.inference_id for s in first}
    sent = {s.inference_id: s for s in first + last}
    assert {s.status for s in sent.values()} == {200}
    records = _records(s3, f"capture/{endpoint_name}/")
    assert sorted(r["eventMetadata"]["inferenceId"] for _, r in records) == sorted(sent), "each request once"
    assert all(key.endswith(".jsonl") for key in _objects(s3, "capture/")), "no unsealed file was uploaded"
    for key, record in records:
        check_record(PurePosixPath(key), record, PurePosixPath("capture"), endpoint_name, sent)


def test_at_zero_percent_nothing_is_written_to_s3(example_image, tmp_path, s3, endpoint_name):
    model = linear_model_archive(tmp_path / "m" / "model.tar.gz", [1.0] * 8)
    url = _deploy(endpoint_name, example_image, model, f"s3://{BUCKET}/zero", 0)

    sent = send(url, "zero", 200, keep_alive=True)
    details = _details_when(endpoint_name, lambda d: "capture_records" in d)
    DeleteEndpointOperator(task_id="delete", endpoint_name=endpoint_name).execute(task_context())  # last pass

    assert {s.status for s in sent} == {200}
    assert _objects(s3, "zero/") == []
    assert (details["capture_records"], details["capture_lost"]) == ("0", "0")


def test_a_destination_that_refuses_fails_no_request_and_the_loss_is_counted(
    example_image, tmp_path, s3, endpoint_name, monkeypatch
):
    monkeypatch.setattr(capture_upload, "MAX_BACKLOG_BYTES", 0)  # a refused file is given up at once (the agent forks)
    model = linear_model_archive(tmp_path / "m" / "model.tar.gz", [1.0] * 8)
    url = _deploy(endpoint_name, example_image, model, "s3://no-such-bucket-here/capture", 100)

    sent = send(url, "lost", 120, keep_alive=True)

    assert {s.status for s in sent} == {200}
    details = _details_when(endpoint_name, lambda d: d.get("capture_lost") == "120")
    assert details["capture_records"] == "0"
    assert "NoSuchBucket" in details["capture_last_error"] and "no-such-bucket-here" in details["capture_last_error"]


def test_an_update_that_moves_the_destination_sends_what_follows_it_there(example_image, tmp_path, s3, endpoint_name):
    model = linear_model_archive(tmp_path / "m" / "model.tar.gz", [1.0] * 8)
    url = _deploy(endpoint_name, example_image, model, f"s3://{BUCKET}/before", 100)
    first = send(url, "first", 30, keep_alive=True)
    assert _deploy(endpoint_name, example_image, model, f"s3://{BUCKET}/after", 100) == url
    second = send(url, "second", 30, keep_alive=True)
    DeleteEndpointOperator(task_id="delete", endpoint_name=endpoint_name).execute(task_context())

    before = [r["eventMetadata"]["inferenceId"] for _, r in _records(s3, f"before/{endpoint_name}/")]
    after = [r["eventMetadata"]["inferenceId"] for _, r in _records(s3, f"after/{endpoint_name}/")]
    # What the first proxy workers held when the update reloaded them may land on either side; nothing twice.
    assert sorted(before + after) == sorted(s.inference_id for s in first + second)
    assert {s.inference_id for s in second} <= set(after)
