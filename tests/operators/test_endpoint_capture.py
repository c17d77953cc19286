"""Data capture on local endpoints: SageMaker's capture files, written exactly once per sampled request, under load
and across an update; nothing at 0%; a destination that fails fails no request and its loss is counted."""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from support.helpers import task_context
from support.models import linear_model_archive

from ml_lifecycle import DeleteEndpointOperator, DeployEndpointOperator
from ml_lifecycle.compute import backend_for
from ml_lifecycle.compute.local.endpoints import capture_config
from ml_lifecycle.core.data_capture import hour_folder
from ml_lifecycle.errors import SpecError

pytestmark = pytest.mark.docker

UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
REQUESTS_PER_CLIENT = 150


@dataclass(frozen=True)
class Sent:
    """One answered request: what went, what came back.

    :param inference_id: its X-Amzn-SageMaker-Inference-Id (unique).
    :param body: the request body.
    :param content_type: the request's Content-Type.
    :param status: the HTTP status.
    :param answer: the response body.
    :param answer_type: the response's Content-Type.
    """

    inference_id: str
    body: bytes
    content_type: str
    status: int
    answer: bytes
    answer_type: str


@pytest.fixture
def endpoint_name(ml_home: Path) -> Iterator[str]:
    """A fresh endpoint name, deleted after the test."""
    name = f"cap-{uuid.uuid4().hex[:8]}"
    yield name
    DeleteEndpointOperator(task_id="delete", endpoint_name=name).execute(task_context())


def _capture(destination: Path, percent: int, *modes: str, **header: list[str]) -> dict[str, Any]:
    """Return a DataCaptureConfig.

    :param destination: the capture folder.
    :param percent: InitialSamplingPercentage.
    :param modes: the capture modes; default Input and Output.
    :param header: CaptureContentTypeHeader's lists.
    """
    config: dict[str, Any] = {
        "EnableCapture": True,
        "InitialSamplingPercentage": percent,
        "DestinationS3Uri": f"file://{destination}",
        "CaptureOptions": [{"CaptureMode": m} for m in (modes or ("Input", "Output"))],
    }
    if header:
        config["CaptureContentTypeHeader"] = header
    return config


def _deploy(name: str, image: str, model: str, capture: dict[str, Any] | None, instances: int = 1) -> dict[str, Any]:
    """Deploy an endpoint with data capture and return the task's result.

    :param name: the endpoint name.
    :param image: the serving image.
    :param model: the model URI.
    :param capture: the DataCaptureConfig, or None.
    :param instances: instance_count.
    """
    return DeployEndpointOperator(
        task_id="deploy",
        endpoint_name=name,
        image_uri=image,
        model_uri=model,
        instance_count=instances,
        data_capture=capture,
    ).execute(task_context())


def _send(url: str, client: str, count: int, keep_alive: bool, content_type: str = "text/csv") -> list[Sent]:
    """Send count requests with unique bodies and inference ids; return them with their answers.

    :param url: the endpoint's URL.
    :param client: a prefix making the ids unique.
    :param count: how many.
    :param keep_alive: one connection for all, or one per request.
    :param content_type: the requests' Content-Type.
    """
    address = urlsplit(url)
    sent = []
    conn = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    for number in range(count):
        inference_id = f"{client}-{number}"
        body = f"{number},{len(client)},1,1,1,1,1,1".encode()
        headers = {"Content-Type": content_type, "X-Amzn-SageMaker-Inference-Id": inference_id}
        if not keep_alive:
            headers["Connection"] = "close"
        conn.request("POST", "/invocations", body=body, headers=headers)
        response = conn.getresponse()
        answer = response.read()
        sent.append(Sent(inference_id, body, content_type, response.status, answer, response.getheader("Content-Type")))
        if not keep_alive:
            conn.close()
            conn = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    conn.close()
    return sent


def _records(destination: Path, name: str) -> list[tuple[Path, dict[str, Any]]]:
    """Return every capture record of an endpoint with the file it is in.

    :param destination: the capture folder.
    :param name: the endpoint name.
    """
    found = []
    for path in sorted((destination / name).rglob("*.jsonl")):
        for line in path.read_text().splitlines():
            found.append((path, json.loads(line)))
    return found


def _check_format(path: Path, record: dict[str, Any], destination: Path, name: str) -> None:
    """Assert a record and its file are SageMaker's capture format.

    :param path: the file.
    :param record: one line, parsed.
    :param destination: the capture folder.
    :param name: the endpoint name.
    """
    assert set(record) == {"captureData", "eventMetadata", "eventVersion"} and record["eventVersion"] == "0"
    metadata = record["eventMetadata"]
    assert set(metadata) <= {"eventId", "inferenceId", "inferenceTime"} and UUID4.fullmatch(metadata["eventId"])
    when = datetime.strptime(metadata["inferenceTime"], "%Y-%m-%dT%H:%M:%S%z")
    assert path.parent == destination / name / "AllTraffic" / hour_folder(when)
    for key, mode in (("endpointInput", "INPUT"), ("endpointOutput", "OUTPUT")):
        if key in record["captureData"]:
            side = record["captureData"][key]
            assert set(side) == {"observedContentType", "mode", "data", "encoding"} and side["mode"] == mode


def _decoded(side: dict[str, Any]) -> bytes:
    """Return the bytes a captured side holds.

    :param side: endpointInput or endpointOutput.
    """
    return base64.b64decode(side["data"]) if side["encoding"] == "BASE64" else side["data"].encode()


def test_under_load_and_across_an_update_every_request_is_captured_exactly_once(
    example_image, tmp_path, ml_home, endpoint_name
):
    destination = tmp_path / "capture"
    capture = _capture(destination, 100, CsvContentTypes=["text/csv"])
    models = [linear_model_archive(tmp_path / v / "model.tar.gz", [1.0] * 8, version=v) for v in ("v1", "v2")]
    url = _deploy(endpoint_name, example_image, models[0], capture, instances=2)["url"]
    results: list[list[Sent]] = [[] for _ in range(6)]

    def client(index: int) -> None:
        results[index] = _send(url, f"c{index}", REQUESTS_PER_CLIENT, keep_alive=index < 4)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    _deploy(endpoint_name, example_image, models[1], capture, instances=2)  # the router reloads under load
    for thread in threads:
        thread.join()
    DeleteEndpointOperator(task_id="delete", endpoint_name=endpoint_name).execute(task_context())  # flushes

    sent = {s.inference_id: s for result in results for s in result}
    assert len(sent) == 6 * REQUESTS_PER_CLIENT and {s.status for s in sent.values()} == {200}
    records = _records(destination, endpoint_name)
    captured = [r["eventMetadata"]["inferenceId"] for _, r in records]
    assert sorted(captured) == sorted(sent), "each request once, no other"
    assert len({r["eventMetadata"]["eventId"] for _, r in records}) == len(records)
    for path, record in records:
        _check_format(path, record, destination, endpoint_name)
        request = sent[record["eventMetadata"]["inferenceId"]]
        inputs, outputs = record["captureData"]["endpointInput"], record["captureData"]["endpointOutput"]
        assert (inputs["observedContentType"], inputs["encoding"], _decoded(inputs)) == (
            "text/csv",
            "CSV",
            request.body,
        )
        assert (outputs["observedContentType"], _decoded(outputs)) == (request.answer_type, request.answer)


def test_at_zero_percent_nothing_is_written(example_image, tmp_path, ml_home, endpoint_name):
    destination = tmp_path / "capture"
    model = linear_model_archive(tmp_path / "m" / "model.tar.gz", [1.0] * 8)
    url = _deploy(endpoint_name, example_image, model, _capture(destination, 0))["url"]

    sent = _send(url, "zero", 300, keep_alive=True)
    view = backend_for("local").endpoints().describe(endpoint_name)
    DeleteEndpointOperator(task_id="delete", endpoint_name=endpoint_name).execute(task_context())

    assert {s.status for s in sent} == {200}
    assert [p for p in destination.rglob("*") if p.is_file()] == []
    assert view is not None and (view.details["capture_records"], view.details["capture_lost"]) == ("0", "0")


def test_a_sample_is_captured_once_and_unlisted_types_as_base64(example_image, tmp_path, ml_home, endpoint_name):
    destination = tmp_path / "capture"
    model = linear_model_archive(tmp_path / "m" / "model.tar.gz", [1.0] * 8)
    capture = _capture(destination, 50, "Input", JsonContentTypes=["application/json"])
    url = _deploy(endpoint_name, example_image, model, capture)["url"]

    sent = _send(url, "a", 400, keep_alive=True) + _send(url, "b", 400, keep_alive=False)
    DeleteEndpointOperator(task_id="delete", endpoint_name=endpoint_name).execute(task_context())

    assert {s.status for s in sent} == {200}
    by_id = {s.inference_id: s for s in sent}
    records = _records(destination, endpoint_name)
    captured = [r["eventMetadata"]["inferenceId"] for _, r in records]
    assert len(captured) == len(set(captured)) and set(captured) <= set(by_id)
    # 50% of 800: outside 250-550 only with a probability below 1e-20.
    assert 250 < len(captured) < 550, len(captured)
    for path, record in records:
        _check_format(path, record, destination, endpoint_name)
        assert set(record["captureData"]) == {"endpointInput"}
        request, inputs = by_id[record["eventMetadata"]["inferenceId"]], record["captureData"]["endpointInput"]
        assert (inputs["observedContentType"], inputs["encoding"]) == ("text/csv", "BASE64")
        assert _decoded(inputs) == request.body


def test_a_destination_that_fails_fails_no_request_and_the_loss_is_counted(
    example_image, tmp_path, ml_home, endpoint_name
):
    destination = tmp_path / "capture"
    model = linear_model_archive(tmp_path / "m" / "model.tar.gz", [1.0] * 8)
    url = _deploy(endpoint_name, example_image, model, _capture(destination, 100))["url"]
    os.chmod(destination / endpoint_name, 0o555)  # nginx's user may no longer write there

    sent = _send(url, "lost", 200, keep_alive=True)

    assert {s.status for s in sent} == {200}
    endpoints = backend_for("local").endpoints()
    view = endpoints.describe(endpoint_name)
    for _ in range(100):  # the counters are written at each flush (every 0.2 s)
        if view is not None and view.details.get("capture_lost") == "200":
            break
        threading.Event().wait(0.1)
        view = endpoints.describe(endpoint_name)
    assert view is not None and view.is_serving
    assert (view.details["capture_records"], view.details["capture_lost"]) == ("0", "200")
    assert "Permission denied" in view.details["capture_last_error"]
    assert _records(destination, endpoint_name) == []
    listed = subprocess.run([sys.executable, "-m", "ml_lifecycle.cli", "endpoints"], capture_output=True, text=True)
    assert f"{endpoint_name} InService" in listed.stdout and "capture=0 capture_lost=200" in listed.stdout


def test_an_s3_destination_is_refused_before_anything_starts(example_image, tmp_path, ml_home, endpoint_name):
    model = linear_model_archive(tmp_path / "m" / "model.tar.gz", [1.0] * 8)
    capture = {**_capture(tmp_path, 100), "DestinationS3Uri": "s3://bucket/capture"}

    with pytest.raises(SpecError, match="file:///abs/path"):
        _deploy(endpoint_name, example_image, model, capture)

    assert backend_for("local").endpoints().describe(endpoint_name) is None


def test_a_wrong_config_fails_when_the_dag_is_parsed(example_image):
    with pytest.raises(SpecError, match="InitialSamplingPercentage"):
        DeployEndpointOperator(
            task_id="deploy",
            endpoint_name="ep",
            image_uri=example_image,
            model_uri="file:///m/model.tar.gz",
            data_capture={"DestinationS3Uri": "s3://b/p", "CaptureOptions": [{"CaptureMode": "Input"}]},
        )


def test_records_a_worker_holds_are_written_when_it_exits_on_an_update_and_on_a_delete(
    example_image, tmp_path, ml_home, endpoint_name, monkeypatch
):
    # Nothing is written on the timer within this test (a flush every 10 minutes): only the workers' exits write.
    monkeypatch.setattr(capture_config, "FLUSH_INTERVAL_S", 600.0)
    destination = tmp_path / "capture"
    models = [linear_model_archive(tmp_path / v / "model.tar.gz", [1.0] * 8, version=v) for v in ("v1", "v2")]
    url = _deploy(endpoint_name, example_image, models[0], _capture(destination, 100))["url"]

    before_update = _send(url, "old", 50, keep_alive=True)
    assert _records(destination, endpoint_name) == []
    _deploy(endpoint_name, example_image, models[1], _capture(destination, 100))  # the router's old workers exit
    written_by_the_update = {r["eventMetadata"]["inferenceId"] for _, r in _records(destination, endpoint_name)}
    after_update = _send(url, "new", 50, keep_alive=True)
    DeleteEndpointOperator(task_id="delete", endpoint_name=endpoint_name).execute(task_context())

    assert written_by_the_update == {s.inference_id for s in before_update}
    captured = sorted(r["eventMetadata"]["inferenceId"] for _, r in _records(destination, endpoint_name))
    assert captured == sorted(s.inference_id for s in before_update + after_update)


def test_an_update_can_turn_capture_on_move_it_and_turn_it_off_keeping_the_url(
    example_image, tmp_path, ml_home, endpoint_name
):
    model = linear_model_archive(tmp_path / "m" / "model.tar.gz", [1.0] * 8)
    first, second = tmp_path / "first", tmp_path / "second"
    url = DeployEndpointOperator(
        task_id="deploy", endpoint_name=endpoint_name, image_uri=example_image, model_uri=model
    ).execute(task_context())["url"]
    sent: dict[str, list[Sent]] = {"off": _send(url, "off", 20, keep_alive=False)}

    for label, capture in (("first", _capture(first, 100)), ("second", _capture(second, 100)), ("none", None)):
        assert _deploy(endpoint_name, example_image, model, capture)["url"] == url
        sent[label] = _send(url, label, 20, keep_alive=False)
    DeleteEndpointOperator(task_id="delete", endpoint_name=endpoint_name).execute(task_context())

    for folder, label in ((first, "first"), (second, "second")):
        captured = sorted(r["eventMetadata"]["inferenceId"] for _, r in _records(folder, endpoint_name))
        assert captured == sorted(s.inference_id for s in sent[label]), label
    assert all(s.status == 200 for batch in sent.values() for s in batch)


def test_json_text_is_captured_byte_for_byte(example_image, tmp_path, ml_home, endpoint_name):
    destination = tmp_path / "capture"
    model = linear_model_archive(tmp_path / "m" / "model.tar.gz", [1.0] * 8)
    capture = _capture(destination, 100, JsonContentTypes=["application/json"])
    url = _deploy(endpoint_name, example_image, model, capture)["url"]
    address = urlsplit(url)
    notes = ['tab\there, "quotes", back\\\\slash', "é ✓ 🙂 and \\u00e9", "new\nline between tokens"]
    bodies = {
        f"j{i}": f'{{"instances": [[1, 1, 1, 1, 1, 1, 1, {i}]],\n\t"note": {json.dumps(note, ensure_ascii=False)}}}'.encode()
        for i, note in enumerate(notes)
    }
    conn = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    answers = {}
    for inference_id, body in bodies.items():
        headers = {"Content-Type": "application/json", "X-Amzn-SageMaker-Inference-Id": inference_id}
        conn.request("POST", "/invocations", body=body, headers=headers)
        response = conn.getresponse()
        answers[inference_id] = (response.status, response.read())
    conn.close()
    DeleteEndpointOperator(task_id="delete", endpoint_name=endpoint_name).execute(task_context())

    assert {status for status, _ in answers.values()} == {200}
    records = {r["eventMetadata"]["inferenceId"]: r for _, r in _records(destination, endpoint_name)}
    assert set(records) == set(bodies)
    for inference_id, record in records.items():
        inputs, outputs = record["captureData"]["endpointInput"], record["captureData"]["endpointOutput"]
        assert (inputs["encoding"], inputs["data"].encode()) == ("JSON", bodies[inference_id])
        assert (outputs["encoding"], outputs["data"].encode()) == ("JSON", answers[inference_id][1])
