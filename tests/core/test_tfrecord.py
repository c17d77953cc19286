"""TFRecord: the record layout, round trips over any chunking, both CRCs checked, bad input named."""

from __future__ import annotations

import itertools
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_lifecycle.core.crc32c import masked_crc32c
from ml_lifecycle.core.record_errors import MalformedRecord, RecordTooLarge
from ml_lifecycle.core.tfrecord import frame_tfrecord, split_tfrecord

PROPERTY = settings(deadline=None, max_examples=200)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    """Cut data at the given offsets."""
    bounds = [0, *sorted({min(c, len(data)) for c in cuts}), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def test_layout() -> None:
    framed = frame_tfrecord(b"abc")
    assert framed[:8] == struct.pack("<Q", 3)
    assert framed[8:12] == struct.pack("<I", masked_crc32c(struct.pack("<Q", 3)))
    assert framed[12:15] == b"abc"
    assert framed[15:] == struct.pack("<I", masked_crc32c(b"abc"))
    # An empty record, byte for byte: length 0, the masked CRC of eight zero bytes, no data, the mask constant.
    assert frame_tfrecord(b"") == bytes(8) + struct.pack("<I", masked_crc32c(bytes(8))) + bytes.fromhex("d8ea82a2")


@given(st.lists(st.binary(max_size=60), max_size=10), st.lists(st.integers(min_value=0, max_value=800), max_size=20))
@PROPERTY
def test_round_trip_over_any_chunking(payloads: list[bytes], cuts: list[int]) -> None:
    frames = [frame_tfrecord(p) for p in payloads]
    stream = b"".join(frames)
    assert list(split_tfrecord(chunked(stream, cuts), keep_framing=False)) == payloads
    assert list(split_tfrecord(chunked(stream, cuts), keep_framing=True)) == frames


def corrupt(data: bytes, at: int) -> bytes:
    """Flip the bits of one byte."""
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


GOOD = frame_tfrecord(b"first")
BAD = frame_tfrecord(b"second record")


@pytest.mark.parametrize(
    ("stream", "problem"),
    [
        pytest.param(GOOD + corrupt(BAD, 0), r"record 1 \(byte 21\): the CRC of its length field", id="length"),
        pytest.param(GOOD + corrupt(BAD, 9), "the CRC of its length field", id="length-crc"),
        pytest.param(GOOD + corrupt(BAD, 14), "the CRC of its 13 data bytes does not match", id="data"),
        pytest.param(GOOD + corrupt(BAD, len(BAD) - 1), "the CRC of its 13 data bytes", id="data-crc"),
        pytest.param(GOOD + BAD[:5], "ends inside its header", id="cut-header"),
        pytest.param(GOOD + BAD[:-2], "announces 13 bytes but the object ends first", id="cut-data"),
        pytest.param(b"plain text, not a TFRecord file", "not TFRecord or is corrupt", id="not-tfrecord"),
    ],
)
def test_bad_input_fails_saying_where(stream: bytes, problem: str) -> None:
    records = split_tfrecord([stream], keep_framing=False)
    with pytest.raises(MalformedRecord, match=problem):
        list(records)


def test_a_record_over_the_limit_fails_before_it_is_read() -> None:
    stream = frame_tfrecord(b"x" * 10) + frame_tfrecord(b"y" * 11)
    records = split_tfrecord([stream], False, 10)
    assert next(records) == b"x" * 10
    with pytest.raises(RecordTooLarge, match="record 1 is 11 bytes, over the 10-byte max payload"):
        next(records)
    with pytest.raises(RecordTooLarge, match="record 0 is 26 bytes"):
        list(split_tfrecord([stream], True, 25))
