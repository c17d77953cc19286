"""BatchTransformOperator with compute="local": the example image serving a known model, and an echo image that
reports every request it gets (body, Content-Type, Accept) so the exact requests can be checked."""

from __future__ import annotations

import base64
import filecmp
import gzip
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
from support.helpers import managed_containers, task_context
from support.models import linear_model_archive
from support.transform_runs import BOUNDED_RUN, write_numbered_lines

from ml_lifecycle import BatchTransformOperator
from ml_lifecycle.core.recordio import frame_recordio, split_recordio
from ml_lifecycle.core.tfrecord import frame_tfrecord, split_tfrecord
from ml_lifecycle.errors import SpecError, TransformFailed

pytestmark = pytest.mark.docker

WEIGHTS = [1.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5]


def _rows(count: int, offset: int = 0) -> list[list[float]]:
    """Make feature rows whose predictions are easy to compute.

    :param count: how many rows.
    :param offset: the value of the first feature of the first row.
    """
    return [[float(offset + i), 1.0, 0, 0, 0, 0, 0, 2.0] for i in range(count)]


def _expected(rows: list[list[float]]) -> list[float]:
    """Predict rows with WEIGHTS and an intercept of 0.5.

    :param rows: feature rows.
    """
    return [sum(w * x for w, x in zip(WEIGHTS, row, strict=True)) + 0.5 for row in rows]


def _write_csv(path: Path, rows: list[list[float]]) -> None:
    """Write rows as CSV.

    :param path: the file.
    :param rows: the rows.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(",".join(str(v) for v in row) + "\n" for row in rows))


@pytest.fixture
def model_uri(tmp_path: Path) -> str:
    """A model.tar.gz of the known linear model."""
    return linear_model_archive(tmp_path / "model" / "model.tar.gz", WEIGHTS, intercept=0.5)


@pytest.mark.parametrize(
    ("batch_strategy", "max_concurrent_transforms", "max_payload_mb"),
    [("MultiRecord", None, 1), ("SingleRecord", 4, 6), (None, None, None)],
    ids=["multi-record", "single-record-4-concurrent", "container-decides"],
)
def test_every_object_is_transformed_in_order_under_its_relative_name(
    example_image,
    model_uri,
    tmp_path,
    ml_home,
    docker_client,
    batch_strategy,
    max_concurrent_transforms,
    max_payload_mb,
):
    inputs = {"a.csv": _rows(3000), "nested/deeper/b.csv": _rows(7, offset=100)}
    for name, rows in inputs.items():
        _write_csv(tmp_path / "in" / name, rows)
    context = task_context()
    op = BatchTransformOperator(
        task_id="transform",
        image_uri=example_image,
        model_uri=model_uri,
        input_uri=f"file://{tmp_path}/in",
        output_uri=f"file://{tmp_path}/out",
        content_type="text/csv",
        batch_strategy=batch_strategy,
        max_concurrent_transforms=max_concurrent_transforms,
        max_payload_mb=max_payload_mb,
    )
    result = op.execute(context)

    assert result["status"] == "Completed"
    for name, rows in inputs.items():
        lines = (tmp_path / "out" / f"{name}.out").read_text().splitlines()
        assert [float(v) for v in lines] == pytest.approx(_expected(rows))
    assert result["metrics"]["records"] == 3007
    record = json.loads(Path(result["record_uri"].removeprefix("file://")).read_text())
    assert record["status"] == "Completed"
    assert managed_containers(docker_client, run_id=context["run_id"]) == []


def test_a_bad_file_fails_by_name_and_the_others_complete(example_image, model_uri, tmp_path, ml_home, docker_client):
    _write_csv(tmp_path / "in" / "good.csv", _rows(5))
    (tmp_path / "in" / "bad.csv").write_text("1,2,not-a-number\n")
    context = task_context()
    op = BatchTransformOperator(
        task_id="transform",
        image_uri=example_image,
        model_uri=model_uri,
        input_uri=f"file://{tmp_path}/in",
        output_uri=f"file://{tmp_path}/out",
        content_type="text/csv",
        max_retries=0,
    )
    with pytest.raises(TransformFailed, match=r"1 of 2 input objects failed.*bad\.csv"):
        op.execute(context)

    assert (tmp_path / "out" / "good.csv.out").is_file()
    assert not (tmp_path / "out" / "bad.csv.out").exists()
    assert managed_containers(docker_client, run_id=context["run_id"]) == []


def test_a_completed_transform_is_not_run_again_on_retry(example_image, model_uri, tmp_path, ml_home):
    _write_csv(tmp_path / "in" / "x.csv", _rows(4))
    context = task_context()
    args = dict(
        task_id="transform",
        image_uri=example_image,
        model_uri=model_uri,
        input_uri=f"file://{tmp_path}/in",
        output_uri=f"file://{tmp_path}/out",
        content_type="text/csv",
    )
    first = BatchTransformOperator(**args).execute(context)
    (tmp_path / "out" / "x.csv.out").write_text("kept\n")
    again = BatchTransformOperator(**args).execute(context)
    assert again["job_name"] == first["job_name"]
    assert (tmp_path / "out" / "x.csv.out").read_text() == "kept\n"


def test_empty_input_is_refused_before_containers_start(example_image, model_uri, tmp_path, ml_home, docker_client):
    (tmp_path / "in").mkdir()
    context = task_context()
    op = BatchTransformOperator(
        task_id="transform",
        image_uri=example_image,
        model_uri=model_uri,
        input_uri=f"file://{tmp_path}/in",
        output_uri=f"file://{tmp_path}/out",
    )
    with pytest.raises(SpecError, match="input_uri"):
        op.execute(context)
    assert managed_containers(docker_client, run_id=context["run_id"]) == []


@pytest.mark.parametrize(
    ("overrides", "parameter"),
    [
        ({"input_uri": "gs://bucket/x"}, "input_uri"),
        ({"split_type": "TFRecords"}, "split_type"),
        ({"data_type": "AugmentedManifestFile"}, "data_type"),
        ({"compression_type": "gzip"}, "compression_type"),
        ({"content_type": "text/csv", "input_filter": "$..features"}, "input_filter"),
        ({"content_type": "text/csv", "output_filter": "$[0:2,246:]"}, "output_filter"),
        ({"content_type": "text/csv", "accept": "application/json", "join_source": "Input"}, "accept"),
        ({"content_type": "text/csv", "join_source": "Input", "assemble_with": "None"}, "assemble_with"),
        ({"content_type": "image/png", "input_filter": "$[1:]"}, "content_type"),
        ({"content_type": "{{ params.ct }}", "input_filter": "$[1:2:3]"}, "input_filter"),
        ({"content_type": "{{ params.ct }}", "join_source": "Output"}, "join_source"),
        ({"image_uri": "UPPER/Case"}, "image_uri"),
        ({"instance_count": 0}, "instance_count"),
        ({"batch_strategy": "Multi"}, "batch_strategy"),
        ({"max_payload_mb": 101}, "max_payload_mb"),
        ({"max_payload_mb": -1}, "max_payload_mb"),
        ({"max_concurrent_transforms": 101}, "max_concurrent_transforms"),
        ({"assemble_with": "Lines"}, "assemble_with"),
        ({"invocation_timeout_s": 0}, "invocation_timeout_s"),
        ({"max_retries": 4}, "max_retries"),
        ({"max_payload_mb": 0, "content_type": "text/csv", "input_filter": "$[1:]"}, "max_payload_mb"),
    ],
)
def test_bad_arguments_fail_when_the_dag_is_parsed(overrides, parameter):
    args = dict(
        task_id="t", image_uri="img:1", model_uri="file:///m.tar.gz", input_uri="file:///in", output_uri="file:///out"
    )
    args.update(overrides)
    with pytest.raises(SpecError) as caught:
        BatchTransformOperator(**args)
    assert caught.value.parameter == parameter


def test_rules_that_need_templated_formats_wait_for_execute():
    operator = BatchTransformOperator(
        task_id="t",
        image_uri="img:1",
        model_uri="file:///m.tar.gz",
        input_uri="file:///in",
        output_uri="file:///out",
        content_type="{{ params.content_type }}",
        accept="text/csv",
        join_source="Input",
        input_filter="$[1:]",
    )
    assert operator.join_source == "Input"


# --- the echo image: every response describes its request --------------------------------------------------------

ECHO_IMAGE = "ml-lifecycle-test/echo-serving:test"
ECHO_SERVER = r'''
"""serve: answer each POST /invocations with a JSON line describing the request (ECHO=describe) or the body itself
(ECHO=raw); FAIL_FIRST=1 answers 500 to the first try of every distinct body; a body holding b"slow" waits SLOW_S."""
import base64, hashlib, json, os, signal, socket, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
seen, lock = set(), threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        return None  # quiet: no access log

    def answer(self, status, body):
        head = f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        self.wfile.write(head + body)

    def do_GET(self):
        self.answer(200 if self.path == "/ping" else 404, b"")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if os.environ.get("FAIL_FIRST") == "1":
            digest = hashlib.sha256(body).digest()
            with lock:
                first = digest not in seen
                seen.add(digest)
            if first:
                return self.answer(500, b"failing the first try on purpose")
        if b"slow" in body:
            time.sleep(float(os.environ.get("SLOW_S", "5")))
        if os.environ.get("ECHO") == "raw":
            return self.answer(200, body)
        described = {
            "content_type": self.headers.get("Content-Type"),
            "accept": self.headers.get("Accept"),
            "body": base64.b64encode(body).decode(),
        }
        self.answer(200, json.dumps(described).encode() + b"\n")


server = ThreadingHTTPServer(("0.0.0.0", 8080), Handler)
server.daemon_threads = True
server.serve_forever()
'''


@pytest.fixture(scope="module")
def echo_image(docker_client: Any, example_image: str) -> str:
    """A serving image that reports each request; built on the same base as the example image."""
    base = docker_client.images.get(example_image).attrs["Config"].get("Image") or "python:3.11-slim"
    base = "python:3.11-slim" if base.startswith("sha256:") or not base else base
    files = {
        "Dockerfile": f'FROM {base}\nCOPY echo.py /echo.py\nENTRYPOINT ["python3", "/echo.py"]\n'.encode(),
        "echo.py": ECHO_SERVER.encode(),
    }
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    docker_client.images.build(fileobj=context, custom_context=True, tag=ECHO_IMAGE, rm=True)
    return ECHO_IMAGE


def requests_seen(out: Path) -> list[dict[str, Any]]:
    """Read an echo .out: one request per line, with its body decoded.

    :param out: the .out file.
    """
    seen = [json.loads(line) for line in out.read_text().splitlines()]
    for request in seen:
        request["body"] = base64.b64decode(request["body"])
    return seen


def echo_transform(
    tmp_path: Path, model_uri: str, echo_image: str, context: dict[str, Any] | None = None, **overrides: Any
) -> dict[str, Any]:
    """Run the echo image over tmp_path/in into tmp_path/out and return execute()'s result.

    :param tmp_path: the test's folder.
    :param model_uri: any model (the echo image ignores it).
    :param echo_image: the echo image.
    :param context: the task context; a fresh one by default.
    :param overrides: operator arguments.
    """
    args: dict[str, Any] = dict(
        task_id="transform",
        image_uri=echo_image,
        model_uri=model_uri,
        input_uri=f"file://{tmp_path}/in",
        output_uri=f"file://{tmp_path}/out",
        max_retries=0,
    )
    return BatchTransformOperator(**{**args, **overrides}).execute(context or task_context())


@pytest.mark.parametrize(
    ("split_type", "frame", "split"),
    [("RecordIO", frame_recordio, split_recordio), ("TFRecord", frame_tfrecord, split_tfrecord)],
)
def test_binary_records_are_sent_bare_one_by_one_and_framed_when_packed(
    echo_image, model_uri, tmp_path, ml_home, split_type, frame, split
):
    magic = bytes.fromhex("0a23d7ce")  # RecordIO's magic word inside a payload makes a multi-part record
    payloads = [b"first", b"x" * 1000 + magic + b"tail", b"", b"last record"]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "data.bin").write_bytes(b"".join(frame(p) for p in payloads))
    accept = "application/x-recordio-protobuf"

    single = echo_transform(
        tmp_path,
        model_uri,
        echo_image,
        split_type=split_type,
        batch_strategy="SingleRecord",
        accept=accept,
        content_type="application/x-recordio-protobuf",
        output_uri=f"file://{tmp_path}/single",
    )
    seen = requests_seen(tmp_path / "single" / "data.bin.out")
    assert [r["body"] for r in seen] == payloads
    assert {(r["content_type"], r["accept"]) for r in seen} == {("application/x-recordio-protobuf", accept)}
    assert single["metrics"]["records"] == 4

    echo_transform(
        tmp_path,
        model_uri,
        echo_image,
        split_type=split_type,
        batch_strategy="MultiRecord",
        max_payload_mb=1,
        output_uri=f"file://{tmp_path}/multi",
    )
    bodies = [r["body"] for r in requests_seen(tmp_path / "multi" / "data.bin.out")]
    assert len(bodies) == 1
    assert list(split([bodies[0]], keep_framing=False)) == payloads  # the packed body is the same format again


def test_gzip_input_manifest_listing_and_accept(echo_image, model_uri, tmp_path, ml_home):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv.gz").write_bytes(gzip.compress(b"1,2\n3,4\n") + gzip.compress(b"5,6\n"))
    (data / "nested").mkdir()
    (data / "nested" / "b.csv.gz").write_bytes(gzip.compress(b"7,8\n"))
    (data / "not-listed.csv.gz").write_bytes(b"not gzip, and never read")
    manifest = tmp_path / "input.manifest"
    manifest.write_text(json.dumps([{"prefix": f"file://{data}/"}, "a.csv.gz", "nested/b.csv.gz"]))

    result = echo_transform(
        tmp_path,
        model_uri,
        echo_image,
        input_uri=f"file://{manifest}",
        data_type="ManifestFile",
        compression_type="Gzip",
        batch_strategy="SingleRecord",
        content_type="text/csv",
        accept="application/json",
    )

    assert result["metrics"]["records"] == 4
    a = requests_seen(tmp_path / "out" / "a.csv.gz.out")
    assert [r["body"] for r in a] == [b"1,2\n", b"3,4\n", b"5,6\n"]
    assert {(r["content_type"], r["accept"]) for r in a} == {("text/csv", "application/json")}
    assert [r["body"] for r in requests_seen(tmp_path / "out" / "nested" / "b.csv.gz.out")] == [b"7,8\n"]
    assert sorted(p.name for p in (tmp_path / "out").rglob("*.out")) == ["a.csv.gz.out", "b.csv.gz.out"]


def test_a_manifest_naming_a_missing_object_is_refused_before_containers_start(
    echo_image, model_uri, tmp_path, ml_home, docker_client
):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "here.csv").write_text("1\n")
    manifest = tmp_path / "m.manifest"
    manifest.write_text(json.dumps([{"prefix": f"file://{tmp_path}/data/"}, "here.csv", "gone.csv"]))
    context = task_context()
    with pytest.raises(SpecError, match=r"input_uri: the manifest names 1 missing object\(s\), e\.g\. 'gone\.csv'"):
        echo_transform(
            tmp_path, model_uri, echo_image, context, input_uri=f"file://{manifest}", data_type="ManifestFile"
        )
    assert managed_containers(docker_client, run_id=context["run_id"]) == []


def test_each_failure_fails_only_its_own_file_with_a_clear_reason(echo_image, model_uri, tmp_path, ml_home):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "good.csv").write_text("1,2\n3,4\n")
    (tmp_path / "in" / "huge-record.csv").write_text("ok\n" + "x" * (1024 * 1024 + 1) + "\n")
    (tmp_path / "in" / "slow.csv").write_text("slow\n")

    with pytest.raises(TransformFailed) as caught:
        echo_transform(
            tmp_path,
            model_uri,
            echo_image,
            max_payload_mb=1,
            invocation_timeout_s=1,
            environment={"SLOW_S": "4"},
            batch_strategy="MultiRecord",
            content_type="text/csv",
        )
    message = str(caught.value)
    assert "2 of 3 input objects failed" in message
    assert "huge-record.csv: record 1 is 1048578 bytes, over the 1048576-byte max payload" in message
    assert "slow.csv: POST /invocations" in message and "no answer within 1 s (invocation_timeout_s)" in message
    assert sorted(p.name for p in (tmp_path / "out").glob("*.out")) == ["good.csv.out"]
    assert [r["body"] for r in requests_seen(tmp_path / "out" / "good.csv.out")] == [b"1,2\n3,4\n"]


def test_framing_and_compression_errors_fail_their_file(echo_image, model_uri, tmp_path, ml_home):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "good.bin.gz").write_bytes(gzip.compress(frame_recordio(b"payload")))
    (tmp_path / "in" / "not-gzip.bin.gz").write_bytes(frame_recordio(b"payload"))
    (tmp_path / "in" / "not-recordio.bin.gz").write_bytes(gzip.compress(b"plain text"))
    with pytest.raises(TransformFailed) as caught:
        echo_transform(tmp_path, model_uri, echo_image, split_type="RecordIO", compression_type="Gzip")
    message = str(caught.value)
    assert "2 of 3 input objects failed" in message
    assert "not-gzip.bin.gz: the object is not valid gzip" in message
    assert "not-recordio.bin.gz: RecordIO record 0: byte 0 holds" in message
    assert [r["body"] for r in requests_seen(tmp_path / "out" / "good.bin.gz.out")] == [frame_recordio(b"payload")]


@pytest.mark.parametrize(("max_retries", "fails"), [(0, True), (1, False)])
def test_failed_requests_are_retried_max_retries_times(echo_image, model_uri, tmp_path, ml_home, max_retries, fails):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text("1\n2\n")
    kwargs = dict(max_retries=max_retries, environment={"FAIL_FIRST": "1"}, batch_strategy="SingleRecord")
    if fails:
        with pytest.raises(TransformFailed, match=r"a\.csv: POST /invocations .* failed: HTTP 500: failing the first"):
            echo_transform(tmp_path, model_uri, echo_image, **kwargs)
        assert not (tmp_path / "out" / "a.csv.out").exists()
    else:
        echo_transform(tmp_path, model_uri, echo_image, **kwargs)
        assert [r["body"] for r in requests_seen(tmp_path / "out" / "a.csv.out")] == [b"1\n", b"2\n"]


def test_a_join_needs_one_response_line_per_record(echo_image, model_uri, tmp_path, ml_home):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text("id-1,1\nid-2,2\n")
    with pytest.raises(TransformFailed, match=r"a\.csv: the response to records 0-1 has 1 lines for 2 records"):
        echo_transform(
            tmp_path,
            model_uri,
            echo_image,
            content_type="text/csv",
            accept="text/csv",
            join_source="Input",
            batch_strategy="MultiRecord",
        )


# --- DataProcessing with the example model ------------------------------------------------------------------------


@pytest.mark.parametrize("batch_strategy", ["MultiRecord", "SingleRecord"])
def test_csv_id_column_is_kept_out_of_the_model_and_joined_back(
    example_image, model_uri, tmp_path, ml_home, batch_strategy
):
    rows = _rows(500)
    ids = [f"row-{i}" for i in range(len(rows))]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text(
        "".join(f"{i}," + ",".join(map(str, r)) + "\n" for i, r in zip(ids, rows, strict=True))
    )
    BatchTransformOperator(
        task_id="transform",
        image_uri=example_image,
        model_uri=model_uri,
        input_uri=f"file://{tmp_path}/in",
        output_uri=f"file://{tmp_path}/out",
        content_type="text/csv",
        accept="text/csv",
        batch_strategy=batch_strategy,
        max_concurrent_transforms=2,
        input_filter="$[1:]",
        join_source="Input",
        output_filter="$[0,-1]",
    ).execute(task_context())

    written = [line.split(",") for line in (tmp_path / "out" / "a.csv.out").read_text().splitlines()]
    assert [w[0] for w in written] == ids
    assert [float(w[1]) for w in written] == pytest.approx(_expected(rows))


def test_json_lines_get_a_sagemaker_output_attribute(example_image, model_uri, tmp_path, ml_home):
    rows = _rows(20)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl").write_text(
        "".join(json.dumps({"id": i, "features": r}) + "\n" for i, r in enumerate(rows))
    )
    BatchTransformOperator(
        task_id="transform",
        image_uri=example_image,
        model_uri=model_uri,
        input_uri=f"file://{tmp_path}/in",
        output_uri=f"file://{tmp_path}/out",
        content_type="application/json",
        accept="application/json",
        batch_strategy="SingleRecord",
        join_source="Input",
        input_filter="$.features",
        output_filter="$['id','SageMakerOutput']",
    ).execute(task_context())

    written = [json.loads(line) for line in (tmp_path / "out" / "a.jsonl.out").read_text().splitlines()]
    assert [w["id"] for w in written] == list(range(20))
    assert [w["SageMakerOutput"]["predictions"][0] for w in written] == pytest.approx(_expected(rows))
    assert set(written[0]) == {"id", "SageMakerOutput"}


# --- bounded memory -------------------------------------------------------------------------------------------------

MEMORY_LIMIT_MB = 256
BIG_INPUT_MB = 1024


def test_an_input_far_larger_than_the_memory_allowed_completes_with_correct_output(
    echo_image, model_uri, tmp_path, ml_home
):
    (tmp_path / "in").mkdir()
    lines = write_numbered_lines(tmp_path / "in" / "big.csv", BIG_INPUT_MB)
    spec = dict(
        image_uri=echo_image,
        model_uri=model_uri,
        input_uri=f"file://{tmp_path}/in",
        output_uri=f"file://{tmp_path}/out",
        content_type="text/csv",
        batch_strategy="MultiRecord",
        max_payload_mb=6,
        max_concurrent_transforms=4,
        environment={"ECHO": "raw"},
    )
    done = subprocess.run(
        [sys.executable, "-c", BOUNDED_RUN, str(MEMORY_LIMIT_MB), json.dumps(spec), "bounded-memory"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["status"] == "Completed"
    assert result["metrics"]["records"] == lines
    assert result["peak_rss_mb"] < MEMORY_LIMIT_MB
    # The echo image answers each request with its body, so the output must be the input, byte for byte, in order.
    assert filecmp.cmp(tmp_path / "in" / "big.csv", tmp_path / "out" / "big.csv.out", shallow=False)


def test_s3_objects_stream_in_and_out_through_multipart_uploads(
    echo_image, model_uri, tmp_path, ml_home, moto_server, monkeypatch
):
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_server)
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    s3.create_bucket(Bucket="scores")
    (tmp_path / "gen").mkdir()
    write_numbered_lines(tmp_path / "gen" / "big.csv", 20)  # 20 MB: several 8 MB chunks and upload parts
    big = (tmp_path / "gen" / "big.csv").read_bytes()
    s3.put_object(Bucket="scores", Key="in/big.csv", Body=big)
    s3.put_object(Bucket="scores", Key="in/nested/small.csv", Body=b"1,2\n")
    s3.put_object(Bucket="scores", Key="in/too-big.csv", Body=big[:5120] + b"x" * (3 * 1024 * 1024) + b"\n")

    with pytest.raises(TransformFailed, match=r"1 of 3 input objects failed.*too-big\.csv: record 5 is"):
        echo_transform(
            tmp_path,
            model_uri,
            echo_image,
            input_uri="s3://scores/in/",
            output_uri="s3://scores/out/",
            aws_conn_id=None,
            environment={"ECHO": "raw"},
            max_payload_mb=2,
            max_concurrent_transforms=3,
            content_type="text/csv",
        )

    assert s3.get_object(Bucket="scores", Key="out/big.csv.out")["Body"].read() == big
    assert s3.get_object(Bucket="scores", Key="out/nested/small.csv.out")["Body"].read() == b"1,2\n"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="scores", Prefix="out/")["Contents"]]
    assert "out/too-big.csv.out" not in keys
    assert s3.list_multipart_uploads(Bucket="scores").get("Uploads", []) == []  # the failed object's was aborted
