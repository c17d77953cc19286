"""A whole object through the pure record plan: decompress, split, filter, pack, then join, filter and assemble."""

from __future__ import annotations

import gzip

import pytest

from ml_lifecycle.core.batching import MB, UNLIMITED_PAYLOAD_BYTES
from ml_lifecycle.core.data_processing import build_data_processing
from ml_lifecycle.core.record_errors import RecordTooLarge
from ml_lifecycle.core.record_plan import RecordPlan
from ml_lifecycle.core.recordio import frame_recordio, split_recordio
from ml_lifecycle.core.tfrecord import frame_tfrecord, split_tfrecord
from ml_lifecycle.errors import SpecError


def run(plan: RecordPlan, data: bytes, model: object = None, chunk: int = 7) -> tuple[list[bytes], bytes]:
    """Send an object through a plan; return the request bodies and the .out bytes.

    :param plan: the plan.
    :param data: the object's bytes as stored.
    :param model: turns a request body into a response; echoes by default.
    :param chunk: the size of the chunks the object arrives in.
    """
    answer = model or (lambda body: body)
    bodies, written = [], []
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    for batch in plan.batches(chunks):
        bodies.append(batch.body)
        written.append(plan.written(batch, answer(batch.body)))  # type: ignore[operator]
    return bodies, b"".join(written)


def test_lines_multi_record_packs_by_bytes_and_assembles_one_newline_per_response() -> None:
    plan = RecordPlan("Line", "MultiRecord", 8, "Line")
    bodies, out = run(plan, b"aaa\nbbb\n\nccc\nddd")
    assert bodies == [b"aaa\nbbb\n", b"ccc\nddd"]
    assert out == b"aaa\nbbb\nccc\nddd\n"


def test_gzip_input_is_split_after_decompression() -> None:
    plan = RecordPlan("Line", "SingleRecord", MB, "Line", gzip=True)
    bodies, out = run(plan, gzip.compress(b"1,2\n3,4\n") + gzip.compress(b"5,6\n"))
    assert bodies == [b"1,2\n", b"3,4\n", b"5,6\n"]
    assert out == b"1,2\n3,4\n5,6\n"


@pytest.mark.parametrize(
    ("split_type", "frame", "split"),
    [("RecordIO", frame_recordio, split_recordio), ("TFRecord", frame_tfrecord, split_tfrecord)],
)
def test_binary_records_single_bare_and_multi_framed(split_type: str, frame: object, split: object) -> None:
    payloads = [b"first", b"second!", b"3"]
    data = b"".join(frame(p) for p in payloads)  # type: ignore[operator]
    single, out = run(RecordPlan(split_type, "SingleRecord", MB, "None"), data)
    assert single == payloads
    assert out == b"".join(payloads)
    multi, _ = run(RecordPlan(split_type, "MultiRecord", 2 * len(frame(b"second!")), "None"), data)  # type: ignore[operator]
    assert len(multi) == 2
    # Each MultiRecord body is a stream of the same format, which splits back into its records.
    assert [p for body in multi for p in split([body], keep_framing=False)] == payloads  # type: ignore[operator]


def test_a_record_over_the_payload_fails_the_object() -> None:
    with pytest.raises(RecordTooLarge, match="record 1 is 11 bytes, over the 10-byte max payload"):
        run(RecordPlan("Line", "MultiRecord", 10, "Line"), b"short\n" + b"x" * 10 + b"\n")


def test_csv_filter_join_and_output_filter_with_multi_record() -> None:
    processing = build_data_processing(
        input_filter="$[1:]",
        output_filter="$[0,-1]",
        join_source="Input",
        content_type="text/csv",
        accept="text/csv",
        split_type="Line",
        assemble_with="Line",
    )
    plan = RecordPlan("Line", "MultiRecord", 12, "Line", processing=processing)

    def model(body: bytes) -> bytes:
        """Sum the features of each row."""
        return b"".join(b"%g\n" % sum(map(float, row.split(b","))) for row in body.splitlines())

    bodies, out = run(plan, b"id-1,1,2\nid-2,3,4\nid-3,5,6\nid-4,7,8\n")
    assert bodies == [b"1,2\n3,4\n5,6\n", b"7,8\n"]
    _, out = run(plan, b"id-1,1,2\nid-2,3,4\nid-3,5,6\nid-4,7,8\n", model)
    assert out == b"id-1,3\nid-2,7\nid-3,11\nid-4,15\n"


def test_input_filter_alone_leaves_responses_as_they_are() -> None:
    processing = build_data_processing(
        input_filter="$.x",
        output_filter=None,
        join_source="None",
        content_type="application/json",
        accept=None,
        split_type="Line",
        assemble_with="Line",
    )
    bodies, out = run(RecordPlan("Line", "MultiRecord", MB, "Line", processing=processing), b'{"x": 1}\n{"x": [2]}\n')
    assert bodies == [b"1\n[2]\n"]
    assert out == b"1\n[2]\n"


# --- max_payload_mb 0: objects streamed whole, or single records without a size limit -------------------------------


@pytest.mark.parametrize(
    ("split_type", "strategy", "streams"),
    [
        ("None", "MultiRecord", True),
        ("None", "SingleRecord", True),
        ("Line", "MultiRecord", True),
        ("RecordIO", "MultiRecord", True),
        ("TFRecord", "MultiRecord", True),
        ("Line", "SingleRecord", False),
        ("RecordIO", "SingleRecord", False),
    ],
)
def test_unlimited_payloads_stream_whole_objects_unless_records_go_one_by_one(split_type, strategy, streams) -> None:
    assert RecordPlan(split_type, strategy, UNLIMITED_PAYLOAD_BYTES, "Line").streams_objects is streams
    assert RecordPlan(split_type, strategy, 6 * MB, "Line").streams_objects is False


def test_a_streamed_object_goes_out_decompressed_and_unsplit() -> None:
    data = b"1,2\n3,4\n" * 1000
    stored = gzip.compress(data)
    plan = RecordPlan("Line", "MultiRecord", UNLIMITED_PAYLOAD_BYTES, "Line", gzip=True)
    assert b"".join(plan.decoded([stored[i : i + 100] for i in range(0, len(stored), 100)])) == data
    plain = RecordPlan("None", "MultiRecord", UNLIMITED_PAYLOAD_BYTES, "None")
    assert list(plain.decoded([b"ab", b"cd"])) == [b"ab", b"cd"]


def test_single_records_of_any_size_pass_when_the_payload_is_unlimited() -> None:
    plan = RecordPlan("Line", "SingleRecord", UNLIMITED_PAYLOAD_BYTES, "Line")
    big = b"x" * (3 * MB)
    bodies, _ = run(plan, b"a\n" + big + b"\nb\n", chunk=65536)
    assert bodies == [b"a\n", big + b"\n", b"b\n"]


def test_record_processing_is_refused_on_streamed_objects() -> None:
    processing = build_data_processing(
        input_filter="$[1:]",
        output_filter=None,
        join_source="None",
        content_type="text/csv",
        accept=None,
        split_type="Line",
        assemble_with="Line",
    )
    with pytest.raises(SpecError, match="max_payload_mb: 0 streams each input object whole"):
        RecordPlan("Line", "MultiRecord", UNLIMITED_PAYLOAD_BYTES, "Line", processing=processing)
    single = RecordPlan("Line", "SingleRecord", UNLIMITED_PAYLOAD_BYTES, "Line", processing=processing)
    assert run(single, b"1,2,3\n")[0] == [b"2,3\n"]
