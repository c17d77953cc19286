"""Traffic for data capture tests: requests with unique inference ids sent to an endpoint, and the checks of what
was captured against SageMaker's capture format (local and EC2 endpoints alike)."""

from __future__ import annotations

import base64
import http.client
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePath
from typing import Any
from urllib.parse import urlsplit

from ml_lifecycle.core.data_capture import hour_folder

UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


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


def send(url: str, client: str, count: int, keep_alive: bool, content_type: str = "text/csv") -> list[Sent]:
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


def check_format(path: PurePath, record: dict[str, Any], destination: PurePath, name: str) -> None:
    """Assert a record and its file are SageMaker's capture format.

    :param path: the file (a local path, or an S3 key as a PurePosixPath).
    :param record: one line, parsed.
    :param destination: the capture folder (or the destination's key prefix).
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


def decoded(side: dict[str, Any]) -> bytes:
    """Return the bytes a captured side holds.

    :param side: endpointInput or endpointOutput.
    """
    return base64.b64decode(side["data"]) if side["encoding"] == "BASE64" else side["data"].encode()


def check_record(
    path: PurePath, record: dict[str, Any], destination: PurePath, name: str, sent: dict[str, Sent]
) -> None:
    """Assert a record of a CSV request captured with input and output is SageMaker's format and holds what went.

    :param path: the file (a local path, or an S3 key as a PurePosixPath).
    :param record: one line, parsed.
    :param destination: the capture folder (or the destination's key prefix).
    :param name: the endpoint name.
    :param sent: the requests sent, by inference id.
    """
    check_format(path, record, destination, name)
    request = sent[record["eventMetadata"]["inferenceId"]]
    inputs, outputs = record["captureData"]["endpointInput"], record["captureData"]["endpointOutput"]
    assert (inputs["encoding"], decoded(inputs)) == ("CSV", request.body)
    assert decoded(outputs) == request.answer
