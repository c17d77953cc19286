"""max_payload_mb=0: each input object streams whole to a real container with chunked encoding, in bounded memory."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.helpers import managed_containers, task_context
from support.models import linear_model_archive
from support.transform_runs import BOUNDED_RUN, write_numbered_lines

from ml_lifecycle import BatchTransformOperator
from ml_lifecycle.core.specs import TransformSpec
from ml_lifecycle.errors import SpecError, TransformFailed

pytestmark = pytest.mark.docker

STREAM_IMAGE = "ml-lifecycle-test/stream-serving:test"
# serve: POST /invocations answers while it reads, chunk by chunk, with the body upper-cased (a streaming model).
# A body starting "env\n" is answered with what the request and the container's environment looked like; a body
# starting "fail" is answered 500; GET /ping is 200.
STREAM_SERVER = r"""
import json, os, signal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

signal.signal(signal.SIGTERM, lambda *_: os._exit(0))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        return None

    def pieces(self):
        if self.headers.get("Transfer-Encoding") != "chunked":
            left = int(self.headers.get("Content-Length") or 0)
            while left:
                piece = self.rfile.read(min(left, 65536))
                left -= len(piece)
                yield piece
            return
        while True:
            size = int(self.rfile.readline().split(b";")[0], 16)
            if size == 0:
                self.rfile.readline()
                return
            piece = self.rfile.read(size)
            self.rfile.readline()
            yield piece

    def whole(self, status, body):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.whole(200 if self.path == "/ping" else 404, b"")

    def do_POST(self):
        pieces = self.pieces()
        first = next(pieces, b"")
        if first.startswith(b"env\n") or first.startswith(b"fail"):
            rest = sum(len(p) for p in pieces)
            if first.startswith(b"fail"):
                return self.whole(500, b"failing on purpose")
            seen = {
                "transfer_encoding": self.headers.get("Transfer-Encoding"),
                "content_length": self.headers.get("Content-Length"),
                "bytes": len(first) + rest,
                "env": {k: v for k, v in os.environ.items() if k.startswith("SAGEMAKER_")},
            }
            return self.whole(200, json.dumps(seen).encode() + b"\n")
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for piece in [first, *pieces]:
            if piece:
                self.wfile.write(b"%x\r\n%b\r\n" % (len(piece), piece.upper()))
        self.wfile.write(b"0\r\n\r\n")


server = ThreadingHTTPServer(("0.0.0.0", 8080), Handler)
server.daemon_threads = True
server.serve_forever()
"""


@pytest.fixture(scope="module")
def stream_image(docker_client: Any, example_image: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A serving image that streams its answers while it reads (built FROM the same base as the example image)."""
    context = tmp_path_factory.mktemp("stream")
    (context / "serve.py").write_text(STREAM_SERVER)
    (context / "Dockerfile").write_text(
        'ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY serve.py /serve.py\nENTRYPOINT ["python3", "/serve.py"]\n'
    )
    base = docker_client.images.get(example_image).attrs["Config"].get("Image") or "python:3.11-slim"
    base = "python:3.11-slim" if base.startswith("sha256:") or not base else base
    docker_client.images.build(path=str(context), tag=STREAM_IMAGE, buildargs={"BASE_IMAGE": base}, rm=True)
    return STREAM_IMAGE


@pytest.fixture
def model_uri(tmp_path: Path) -> str:
    """A model.tar.gz (the stream image ignores it)."""
    return linear_model_archive(tmp_path / "model" / "model.tar.gz", [1.0, 2.0], intercept=0.5)


def _transform(
    tmp_path: Path, image: str, model_uri: str, context: dict[str, Any] | None = None, **kwargs: Any
) -> dict[str, Any]:
    """Run BatchTransformOperator on tmp_path/in into tmp_path/out.

    :param tmp_path: the test's folder.
    :param image: the serving image.
    :param model_uri: the model.
    :param context: the task context; a fresh one by default.
    :param kwargs: more operator arguments.
    """
    operator = BatchTransformOperator(
        task_id="transform",
        image_uri=image,
        model_uri=model_uri,
        input_uri=f"file://{tmp_path}/in",
        output_uri=f"file://{tmp_path}/out",
        content_type="text/csv",
        **kwargs,
    )
    return operator.execute(context or task_context())


def test_each_object_streams_whole_with_chunked_encoding(stream_image, model_uri, tmp_path, ml_home, docker_client):
    (tmp_path / "in" / "nested").mkdir(parents=True)
    (tmp_path / "in" / "env.csv").write_bytes(b"env\n" + b"1,2\n" * 10_000)
    big = b"".join(b"%012d,abc\n" % n for n in range(1_500_000))  # 24 MB: one request, many chunks
    (tmp_path / "in" / "nested" / "big.csv").write_bytes(big)
    (tmp_path / "in" / "no-newline.csv").write_bytes(b"x,y")

    context = task_context()
    result = _transform(
        tmp_path, stream_image, model_uri, context, max_payload_mb=0, split_type="None", assemble_with="Line"
    )

    assert result["status"] == "Completed"
    seen = json.loads((tmp_path / "out" / "env.csv.out").read_bytes())
    assert seen["transfer_encoding"] == "chunked" and seen["content_length"] is None
    assert seen["bytes"] == 4 + 4 * 10_000  # the whole object in one request, not packed into payloads
    assert seen["env"]["SAGEMAKER_MAX_PAYLOAD_IN_MB"] == "0"
    assert seen["env"]["SAGEMAKER_BATCH_STRATEGY"] == "MULTI_RECORD"
    assert (tmp_path / "out" / "nested" / "big.csv.out").read_bytes() == big.upper()
    assert (tmp_path / "out" / "no-newline.csv.out").read_bytes() == b"X,Y\n"  # assemble_with Line ends it
    assert result["metrics"]["records"] == 3  # one request per object
    assert managed_containers(docker_client, run_id=context["run_id"]) == []


def test_gzip_objects_stream_decompressed_and_split_none_keeps_bytes(stream_image, model_uri, tmp_path, ml_home):
    (tmp_path / "in").mkdir()
    data = bytes(range(256)) * 4096
    (tmp_path / "in" / "blob.bin.gz").write_bytes(gzip.compress(data))

    _transform(
        tmp_path,
        stream_image,
        model_uri,
        max_payload_mb=0,
        split_type="None",
        compression_type="Gzip",
        assemble_with="None",
    )

    assert (tmp_path / "out" / "blob.bin.gz.out").read_bytes() == data.upper()


def test_single_records_of_any_size_go_out_one_by_one_chunked(stream_image, model_uri, tmp_path, ml_home):
    (tmp_path / "in").mkdir()
    long_line = b"q" * (9 * 1024 * 1024)  # over SageMaker's 6 MB default payload
    (tmp_path / "in" / "records.csv").write_bytes(b"a,b\n" + long_line + b"\nenv\n")

    _transform(tmp_path, stream_image, model_uri, max_payload_mb=0, batch_strategy="SingleRecord", split_type="Line")

    out = (tmp_path / "out" / "records.csv.out").read_bytes().split(b"\n")
    assert out[0] == b"A,B" and out[1] == long_line.upper()
    seen = json.loads(out[2])
    assert seen["transfer_encoding"] == "chunked" and seen["bytes"] == 4
    assert seen["env"]["SAGEMAKER_BATCH_STRATEGY"] == "SINGLE_RECORD"


def test_a_failing_object_is_retried_then_fails_by_name_and_the_others_complete(
    stream_image, model_uri, tmp_path, ml_home
):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "good.csv").write_bytes(b"1,2\n")
    (tmp_path / "in" / "bad.csv").write_bytes(b"fail\n" * 1000)

    with pytest.raises(TransformFailed) as caught:
        _transform(tmp_path, stream_image, model_uri, max_payload_mb=0, split_type="None", max_retries=1)

    message = str(caught.value)
    assert "1 of 2 input objects failed" in message
    assert "bad.csv: POST /invocations (chunked)" in message and "HTTP 500: failing on purpose" in message
    assert sorted(p.name for p in (tmp_path / "out").glob("*.out")) == ["good.csv.out"]


def test_an_object_far_larger_than_the_memory_allowed_streams_through(stream_image, model_uri, tmp_path, ml_home):
    (tmp_path / "in").mkdir()
    write_numbered_lines(tmp_path / "in" / "big.csv", 512)
    spec = dict(
        image_uri=stream_image,
        model_uri=model_uri,
        input_uri=f"file://{tmp_path}/in",
        output_uri=f"file://{tmp_path}/out",
        content_type="text/csv",
        max_payload_mb=0,
        split_type="None",
    )
    done = subprocess.run(
        [sys.executable, "-c", BOUNDED_RUN, "256", json.dumps(spec), "streamed-bounded"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["status"] == "Completed"
    assert result["peak_rss_mb"] < 256
    with (tmp_path / "in" / "big.csv").open("rb") as source, (tmp_path / "out" / "big.csv.out").open("rb") as out:
        while block := source.read(1 << 20):
            assert out.read(len(block)) == block.upper()
        assert out.read(1) == b""


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"max_payload_mb": -1}, "max_payload_mb"),
        ({"max_payload_mb": 101}, "max_payload_mb"),
        ({"max_payload_mb": 0, "split_type": "None", "input_filter": "$[1:]"}, "0 streams each input object whole"),
        ({"max_payload_mb": 0}, "split_type Line would be ignored"),
        (
            {"max_payload_mb": 0, "batch_strategy": None, "split_type": "RecordIO"},
            "split_type RecordIO would be ignored",
        ),
        (
            {
                "max_payload_mb": 0,
                "split_type": "None",
                "batch_strategy": "SingleRecord",
                "content_type": "application/json",
                "accept": "application/json",
                "output_filter": "$.predictions",
            },
            "0 streams each input object whole",
        ),
    ],
)
def test_bad_streaming_settings_are_refused_before_containers_start(overrides, problem):
    args = dict(
        image_uri="img:1",
        model_uri="file:///m.tar.gz",
        input_uri="file:///in",
        output_uri="file:///out",
        content_type="text/csv",
        batch_strategy="MultiRecord",
    )
    args.update(overrides)
    with pytest.raises(SpecError, match=problem) as caught:
        TransformSpec(**args)
    assert caught.value.parameter == "max_payload_mb"


def test_single_record_streaming_keeps_record_processing():
    spec = TransformSpec(
        image_uri="img:1",
        model_uri="file:///m.tar.gz",
        input_uri="file:///in",
        output_uri="file:///out",
        content_type="text/csv",
        batch_strategy="SingleRecord",
        max_payload_mb=0,
        input_filter="$[1:]",
    )
    assert spec.data_processing() is not None


def test_a_split_that_max_payload_mb_0_would_ignore_is_refused_when_the_dag_is_parsed():
    # Before: max_payload_mb=0 with the default split (Line) sent each object whole, ignoring the split, silently.
    with pytest.raises(SpecError, match="split_type Line would be ignored") as caught:
        BatchTransformOperator(
            task_id="score",
            image_uri="img:1",
            model_uri="file:///m.tar.gz",
            input_uri="file:///in",
            output_uri="file:///out",
            max_payload_mb=0,
        )
    assert caught.value.parameter == "max_payload_mb"
