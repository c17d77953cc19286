"""MXNet RecordIO: the frame layout, magic words inside payloads, round trips over any chunking, bad input."""

from __future__ import annotations

import itertools
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_lifecycle.core.record_errors import MalformedRecord, RecordTooLarge
from ml_lifecycle.core.recordio import MAGIC_BYTES, frame_recordio, split_recordio

PROPERTY = settings(deadline=None, max_examples=300)


def header(flag: int, length: int) -> bytes:
    """A frame header written by hand: the magic number, then flag and length in one little-endian word."""
    return bytes.fromhex("0a23d7ce") + struct.pack("<I", flag << 29 | length)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    """Cut data at the given offsets."""
    bounds = [0, *sorted({min(c, len(data)) for c in cuts}), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@pytest.mark.parametrize(
    ("payload", "framed"),
    [
        pytest.param(b"abcd", header(0, 4) + b"abcd", id="aligned-no-padding"),
        pytest.param(b"abcde", header(0, 5) + b"abcde\0\0\0", id="padded-to-4"),
        pytest.param(b"", header(0, 0), id="empty"),
        pytest.param(b"ab" + MAGIC_BYTES, header(0, 6) + b"ab" + MAGIC_BYTES + b"\0\0", id="unaligned-magic-kept"),
        pytest.param(
            b"abcd" + MAGIC_BYTES + b"ef",
            header(1, 4) + b"abcd" + header(3, 2) + b"ef\0\0",
            id="aligned-magic-cuts-the-record",
        ),
        pytest.param(
            MAGIC_BYTES + b"abcd" + MAGIC_BYTES,
            header(1, 0) + header(2, 4) + b"abcd" + header(3, 0),
            id="magic-at-both-ends",
        ),
    ],
)
def test_frame_layout(payload: bytes, framed: bytes) -> None:
    assert frame_recordio(payload) == framed
    assert list(split_recordio([framed], keep_framing=False)) == [payload]
    assert list(split_recordio([framed], keep_framing=True)) == [framed]


def test_single_record_strips_padding_and_multi_record_keeps_it() -> None:
    stream = frame_recordio(b"abcde") + frame_recordio(b"xy")
    assert list(split_recordio([stream], keep_framing=False)) == [b"abcde", b"xy"]
    assert list(split_recordio([stream], keep_framing=True)) == [
        header(0, 5) + b"abcde\0\0\0",
        header(0, 2) + b"xy\0\0",
    ]


# Payloads that often hold the magic word, at aligned and unaligned offsets.
PAYLOADS = st.lists(
    st.lists(st.sampled_from([b"a", b"bcde", MAGIC_BYTES, b"\0", b"\xce"]), max_size=12).map(b"".join),
    max_size=12,
)


@given(PAYLOADS, st.lists(st.integers(min_value=0, max_value=400), max_size=20))
@PROPERTY
def test_round_trip_over_any_chunking(payloads: list[bytes], cuts: list[int]) -> None:
    frames = [frame_recordio(p) for p in payloads]
    stream = b"".join(frames)
    assert list(split_recordio(chunked(stream, cuts), keep_framing=False)) == payloads
    kept = list(split_recordio(chunked(stream, cuts), keep_framing=True))
    assert kept == frames
    # A MultiRecord request is RecordIO again: any run of kept records splits back into the same payloads.
    assert list(split_recordio([b"".join(kept[1:])], keep_framing=False)) == payloads[1:]


@given(PAYLOADS)
@PROPERTY
def test_one_byte_chunks(payloads: list[bytes]) -> None:
    stream = b"".join(frame_recordio(p) for p in payloads)
    assert list(split_recordio((stream[i : i + 1] for i in range(len(stream))), keep_framing=False)) == payloads


@pytest.mark.parametrize(
    ("stream", "problem"),
    [
        pytest.param(b"not recordio", r"byte 0 holds 0x\w+, not the magic number 0xced7230a", id="no-magic"),
        pytest.param(frame_recordio(b"ok") + b"\x01\x02", "record 1 .* ends inside a frame header", id="cut-header"),
        pytest.param(header(0, 8) + b"abc", "announces 8 bytes but the object ends first", id="cut-data"),
        pytest.param(header(0, 5) + b"abcde", "announces 5 bytes but the object ends first", id="cut-padding"),
        pytest.param(header(2, 0), "continuation flag 2, which cannot start a record", id="starts-with-middle"),
        pytest.param(header(1, 0) + header(0, 0), "flag 0, which cannot continue a record", id="whole-inside-a-record"),
        pytest.param(header(1, 4) + b"abcd", "ends inside a frame header", id="first-part-without-last"),
        pytest.param(header(5, 0), "continuation flag 5", id="unknown-flag"),
    ],
)
def test_malformed_input_fails_saying_where(stream: bytes, problem: str) -> None:
    with pytest.raises(MalformedRecord, match=problem):
        list(split_recordio([stream], keep_framing=False))


@pytest.mark.parametrize(("keep_framing", "limit"), [(False, 9), (True, 20)])
def test_a_record_over_the_limit_fails_before_its_data_is_read(keep_framing: bool, limit: int) -> None:
    # 9 data bytes are 8 + 9 + 3 = 20 bytes framed, so the first record fits exactly and the second does not.
    records = split_recordio([frame_recordio(b"x" * 9) + frame_recordio(b"y" * 13)], keep_framing, limit)
    assert len(next(records)) == limit
    with pytest.raises(RecordTooLarge, match=f"record 1 is {13 if not keep_framing else 24} bytes"):
        next(records)
