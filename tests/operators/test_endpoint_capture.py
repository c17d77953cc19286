"""Data capture on local endpoints: SageMaker's capture files, written exactly once per sampled request, under load
and across an update; nothing at 0%; a destination that fails fails no request and its loss is counted."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from support.capture_traffic import Sent, check_format, decoded, send
from support.helpers import task_context
from support.models import linear_model_archive

from ml_lifecycle import DeleteEndpointOperator, DeployEndpointOperator
from ml_lifecycle.compute import backend_for
from ml_lifecycle.compute.local.endpoints import capture_config
from ml_lifecycle.errors import SpecError

pytestmark = pytest.mark.docker

REQUESTS_PER_CLIENT = 150


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


def test_under_load_and_across_an_update_every_request_is_captured_exactly_once(
    example_image, tmp_path, ml_home, endpoint_name
):
    destination = tmp_path / "capture"
    capture = _capture(destination, 100, CsvContentTypes=["text/csv"])
    models = [linear_model_archive(tmp_path / v / "model.tar.gz", [1.0] * 8, version=v) for v in ("v1", "v2")]
    url = _deploy(endpoint_name, example_image, models[0], capture, instances=2)["url"]
    results: list[list[Sent]] = [[] for _ in range(6)]

    def client(index: int) -> None:
        results[index] = send(url, f"c{index}", REQUESTS_PER_CLIENT, keep_alive=index < 4)

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
        check_format(path, record, destination, endpoint_name)
        request = sent[record["eventMetadata"]["inferenceId"]]
        inputs, outputs = record["captureData"]["endpointInput"], record["captureData"]["endpointOutput"]
        assert (inputs["observedContentType"], inputs["encoding"], decoded(inputs)) == (
            "text/csv",
            "CSV",
            request.body,
        )
        assert (outputs["observedContentType"], decoded(outputs)) == (request.answer_type, request.answer)


def test_at_zero_percent_nothing_is_written(example_image, tmp_path, ml_home, endpoint_name):
    destination = tmp_path / "capture"
    model = linear_model_archive(tmp_path / "m" / "model.tar.gz", [1.0] * 8)
    url = _deploy(endpoint_name, example_image, model, _capture(destination, 0))["url"]

    sent = send(url, "zero", 300, keep_alive=True)
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

    sent = send(url, "a", 400, keep_alive=True) + send(url, "b", 400, keep_alive=False)
    DeleteEndpointOperator(task_id="delete", endpoint_name=endpoint_name).execute(task_context())

    assert {s.status for s in sent} == {200}
    by_id = {s.inference_id: s for s in sent}
    records = _records(destination, endpoint_name)
    captured = [r["eventMetadata"]["inferenceId"] for _, r in records]
    assert len(captured) == len(set(captured)) and set(captured) <= set(by_id)
    # 50% of 800: outside 250-550 only with a probability below 1e-20.
    assert 250 < len(captured) < 550, len(captured)
    for path, record in records:
        check_format(path, record, destination, endpoint_name)
        assert set(record["captureData"]) == {"endpointInput"}
        request, inputs = by_id[record["eventMetadata"]["inferenceId"]], record["captureData"]["endpointInput"]
        assert (inputs["observedContentType"], inputs["encoding"]) == ("text/csv", "BASE64")
        assert decoded(inputs) == request.body


def test_a_destination_that_fails_fails_no_request_and_the_loss_is_counted(
    example_image, tmp_path, ml_home, endpoint_name
):
    destination = tmp_path / "capture"
    model = linear_model_archive(tmp_path / "m" / "model.tar.gz", [1.0] * 8)
    url = _deploy(endpoint_name, example_image, model, _capture(destination, 100))["url"]
    os.chmod(destination / endpoint_name, 0o555)  # nginx's user may no longer write there

    sent = send(url, "lost", 200, keep_alive=True)

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

    before_update = send(url, "old", 50, keep_alive=True)
    assert _records(destination, endpoint_name) == []
    _deploy(endpoint_name, example_image, models[1], _capture(destination, 100))  # the router's old workers exit
    written_by_the_update = {r["eventMetadata"]["inferenceId"] for _, r in _records(destination, endpoint_name)}
    after_update = send(url, "new", 50, keep_alive=True)
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
    sent: dict[str, list[Sent]] = {"off": send(url, "off", 20, keep_alive=False)}

    for label, capture in (("first", _capture(first, 100)), ("second", _capture(second, 100)), ("none", None)):
        assert _deploy(endpoint_name, example_image, model, capture)["url"] == url
        sent[label] = send(url, label, 20, keep_alive=False)
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
