"""Records and request bodies: line splitting over any chunking, packing by real byte size, assembly."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_lifecycle.core.batching import (
    MB,
    Batch,
    RecordTooLarge,
    assemble,
    batch_records,
    batch_with_sources,
    split_lines,
    split_records,
    whole_object,
)
from ml_lifecycle.errors import MlLifecycleError

PROPERTY = settings(deadline=None, max_examples=300)


def expected_lines(data: bytes) -> list[bytes]:
    """The lines of data, each with its newline (the last may lack it), empty lines dropped."""
    parts = data.split(b"\n")
    return [part + b"\n" for part in parts[:-1] if part] + ([parts[-1]] if parts[-1] else [])


@pytest.mark.parametrize(
    ("chunks", "lines"),
    [
        pytest.param([b"a\nb\n"], [b"a\n", b"b\n"], id="two-lines"),
        pytest.param([b"a\nb"], [b"a\n", b"b"], id="last-line-without-newline"),
        pytest.param([b"\n\na\n\n"], [b"a\n"], id="empty-lines-skipped"),
        pytest.param([b""], [], id="empty"),
        pytest.param([], [], id="no-chunks"),
        pytest.param([b"ab", b"c\nd", b"\n"], [b"abc\n", b"d\n"], id="line-across-chunks"),
        pytest.param([b"a", b"", b"\n"], [b"a\n"], id="empty-chunk-in-between"),
        pytest.param([b"a\r\nb"], [b"a\r\n", b"b"], id="crlf-kept"),
        pytest.param([b"1,2\n", b"3,4\n"], [b"1,2\n", b"3,4\n"], id="chunk-per-line"),
    ],
)
def test_split_lines(chunks: list[bytes], lines: list[bytes]) -> None:
    assert list(split_lines(chunks)) == lines


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    """Cut data at the given offsets."""
    points = sorted({min(c, len(data)) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


LINE_BYTES = st.binary(max_size=300).map(lambda b: b.replace(b"\x00", b"\n"))


@given(LINE_BYTES, st.lists(st.integers(min_value=0, max_value=300), max_size=30))
@PROPERTY
def test_split_lines_over_any_chunking_equals_splitting_the_whole(data: bytes, cuts: list[int]) -> None:
    whole = list(split_lines([data]))
    assert whole == expected_lines(data)
    assert list(split_lines(chunked(data, cuts))) == whole
    assert list(split_lines(data[i : i + 1] for i in range(len(data)))) == whole


@pytest.mark.parametrize(
    ("chunks", "records"),
    [
        pytest.param([b"ab", b"c\n"], [b"abc\n"], id="joined"),
        pytest.param([b"", b""], [], id="empty"),
    ],
)
def test_whole_object(chunks: list[bytes], records: list[bytes]) -> None:
    assert list(whole_object(chunks)) == records


@pytest.mark.parametrize(
    ("split_type", "records"),
    [pytest.param("Line", [b"a\n", b"b\n"], id="Line"), pytest.param("None", [b"a\nb\n"], id="None")],
)
def test_split_records(split_type: str, records: list[bytes]) -> None:
    assert list(split_records([b"a\n", b"b\n"], split_type)) == records


@pytest.mark.parametrize("split_type", ["line", "JSON", ""])
def test_split_records_rejects_unsupported(split_type: str) -> None:
    with pytest.raises(MlLifecycleError, match=f"split_type '{split_type}' is not supported; use one of None, Line"):
        split_records([b"x"], split_type)


@pytest.mark.parametrize(
    ("chunks", "limit", "records"),
    [
        pytest.param([b"abc\nde\n"], 4, [b"abc\n", b"de\n"], id="lines-at-the-limit-fit"),
        pytest.param([b"ab", b"c\n"], 4, [b"abc\n"], id="across-chunks-at-the-limit"),
        pytest.param([b"abc"], 3, [b"abc"], id="last-line-without-newline-at-the-limit"),
    ],
)
def test_split_lines_within_the_limit(chunks: list[bytes], limit: int, records: list[bytes]) -> None:
    assert list(split_lines(chunks, limit)) == records


@pytest.mark.parametrize(
    ("chunks", "index"),
    [
        pytest.param([b"ok\nabcde\n"], 1, id="long-line-inside-a-chunk"),
        pytest.param([b"ok\nab", b"cde\n"], 1, id="long-line-across-chunks"),
        pytest.param([b"abcde"], 0, id="no-newline-at-all"),
    ],
)
def test_split_lines_fails_a_line_over_the_limit(chunks: list[bytes], index: int) -> None:
    with pytest.raises(RecordTooLarge, match=f"record {index} is [0-9]+ bytes, over the 4-byte max payload"):
        list(split_lines(chunks, 4))


def test_split_lines_stops_reading_a_file_without_newlines_at_the_limit() -> None:
    read = []

    def endless() -> Iterator[bytes]:
        while True:
            read.append(1)
            yield b"x" * 1000

    with pytest.raises(RecordTooLarge):
        list(split_lines(endless(), 10_000))
    assert len(read) == 11


def test_whole_object_fails_over_the_limit_before_reading_everything() -> None:
    assert list(whole_object([b"ab", b"cd"], 4)) == [b"abcd"]
    chunks = iter([b"ab", b"cde", b"never read"])
    with pytest.raises(RecordTooLarge, match="record 0 is 5 bytes"):
        list(whole_object(chunks, 4))
    assert next(chunks) == b"never read"


@pytest.mark.parametrize(
    ("records", "max_bytes", "strategy", "batches"),
    [
        pytest.param([b"aa", b"bb", b"cc"], 4, "MultiRecord", [b"aabb", b"cc"], id="multi-fills-to-limit"),
        pytest.param([b"aa", b"bb", b"cc"], 6, "MultiRecord", [b"aabbcc"], id="multi-exact-fit"),
        pytest.param([b"aa", b"bb", b"cc"], 5, "MultiRecord", [b"aabb", b"cc"], id="multi-under-limit"),
        pytest.param([b"aaa", b"b", b"cc", b"d"], 4, "MultiRecord", [b"aaab", b"ccd"], id="multi-mixed-sizes"),
        pytest.param([b"aa", b"bb", b"cc"], 100, "SingleRecord", [b"aa", b"bb", b"cc"], id="single-one-per-request"),
        pytest.param([], 4, "MultiRecord", [], id="multi-empty"),
        pytest.param([], 4, "SingleRecord", [], id="single-empty"),
    ],
)
def test_batch_records(records: list[bytes], max_bytes: int, strategy: str, batches: list[bytes]) -> None:
    assert [batch.body for batch in batch_records(records, max_bytes, strategy)] == batches


def test_batches_count_their_records_and_know_where_they_start() -> None:
    batches = list(batch_records([b"aa", b"b", b"c", b"dd"], 3, "MultiRecord"))
    assert batches == [Batch(b"aab", 2, 0), Batch(b"cdd", 2, 2)]


def test_batch_with_sources_packs_by_what_is_sent_and_keeps_the_sources() -> None:
    pairs = [(b"1\n", b"id-a,1\n"), (b"2\n", b"id-b,2\n"), (b"3\n", b"id-c,3\n")]
    batches = list(batch_with_sources(pairs, 4, "MultiRecord"))
    assert batches == [
        Batch(b"1\n2\n", 2, 0, (b"id-a,1\n", b"id-b,2\n")),
        Batch(b"3\n", 1, 2, (b"id-c,3\n",)),
    ]
    single = list(batch_with_sources(pairs, 4, "SingleRecord"))
    assert [(b.body, b.first_index, b.sources) for b in single] == [(s, i, (o,)) for i, (s, o) in enumerate(pairs)]


@pytest.mark.parametrize("strategy", ["MultiRecord", "SingleRecord"])
def test_record_too_large(strategy: str) -> None:
    with pytest.raises(RecordTooLarge) as info:
        list(batch_records([b"ok", b"12345", b"ok"], 4, strategy))
    with pytest.raises(RecordTooLarge, match="record 1 is 5 bytes"):
        list(batch_with_sources([(b"ok", b""), (b"12345", b"")], 4, strategy))
    assert "record 1 is 5 bytes, over the 4-byte max payload" in str(info.value)
    assert "max_payload_mb" in str(info.value)
    assert isinstance(info.value, MlLifecycleError)


def test_record_exactly_at_the_limit_fits() -> None:
    assert [b.body for b in batch_records([b"x" * MB], MB, "MultiRecord")] == [b"x" * MB]
    assert MB == 1024 * 1024


RECORDS = st.lists(st.binary(min_size=1, max_size=40), max_size=60)


@given(RECORDS, st.integers(min_value=40, max_value=200))
@PROPERTY
def test_multi_record_preserves_bytes_order_and_limit(records: list[bytes], max_bytes: int) -> None:
    batches = [batch.body for batch in batch_records(records, max_bytes, "MultiRecord")]
    assert b"".join(batches) == b"".join(records)
    assert all(0 < len(batch) <= max_bytes for batch in batches)
    # Each batch is a run of whole consecutive records, and packing is greedy: the next record did not fit.
    position = 0
    for index, batch in enumerate(batches):
        taken = b""
        while len(taken) < len(batch):
            taken += records[position]
            position += 1
        assert taken == batch
        if index + 1 < len(batches):
            assert len(batch) + len(records[position]) > max_bytes
    assert position == len(records)


def test_multi_record_keeps_empty_records_in_the_running_batch() -> None:
    assert list(batch_records([b"ab", b"", b"cd", b""], 4, "MultiRecord")) == [Batch(b"abcd", 4, 0)]


@given(RECORDS, st.integers(min_value=40, max_value=200))
@PROPERTY
def test_single_record_is_one_request_per_record(records: list[bytes], max_bytes: int) -> None:
    assert [batch.body for batch in batch_records(records, max_bytes, "SingleRecord")] == records


@pytest.mark.parametrize(
    ("response", "assemble_with", "written"),
    [
        pytest.param(b"0.5", "Line", b"0.5\n", id="line-adds-newline"),
        pytest.param(b"0.5\n", "Line", b"0.5\n", id="line-keeps-one-newline"),
        pytest.param(b"1\n2\n", "Line", b"1\n2\n", id="line-multi-record-response"),
        pytest.param(b"", "Line", b"\n", id="line-empty-response"),
        pytest.param(b"0.5", "None", b"0.5", id="none-unchanged"),
        pytest.param(b"0.5\n", "None", b"0.5\n", id="none-keeps-newline"),
    ],
)
def test_assemble(response: bytes, assemble_with: str, written: bytes) -> None:
    assert assemble(response, assemble_with) == written
