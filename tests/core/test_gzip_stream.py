"""Streaming gzip: any chunking, several members, bounded output chunks, bad and truncated input."""

from __future__ import annotations

import gzip
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_lifecycle.core.gzip_stream import gunzip_chunks
from ml_lifecycle.core.record_errors import MalformedRecord


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    """Cut data at the given offsets."""
    bounds = [0, *sorted({min(c, len(data)) for c in cuts}), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@given(
    st.lists(st.binary(max_size=300), min_size=1, max_size=4),
    st.lists(st.integers(min_value=0, max_value=1500), max_size=15),
    st.integers(min_value=1, max_value=64),
)
@settings(deadline=None, max_examples=200)
def test_concatenated_members_over_any_chunking(members: list[bytes], cuts: list[int], out_chunk: int) -> None:
    stream = b"".join(gzip.compress(m) for m in members)
    out = list(gunzip_chunks(chunked(stream, cuts), out_chunk))
    assert b"".join(out) == b"".join(members)
    assert all(0 < len(piece) <= out_chunk for piece in out)


def test_a_small_input_that_expands_hugely_comes_out_in_bounded_chunks() -> None:
    bomb = gzip.compress(bytes(50 * 1024 * 1024))
    assert len(bomb) < 100_000
    sizes = [len(piece) for piece in gunzip_chunks([bomb], 1024 * 1024)]
    assert sum(sizes) == 50 * 1024 * 1024
    assert max(sizes) == 1024 * 1024


def test_zero_padding_after_a_member_is_ignored() -> None:
    assert b"".join(gunzip_chunks([gzip.compress(b"data") + bytes(10)])) == b"data"


@pytest.mark.parametrize(
    ("stream", "problem"),
    [
        pytest.param(b"plain,csv\n1,2\n", "not valid gzip", id="not-gzip"),
        pytest.param(gzip.compress(b"x" * 1000)[:-12], "ends before its end marker", id="truncated"),
        pytest.param(gzip.compress(b"ok") + b"trailing garbage", "not valid gzip", id="garbage-after-a-member"),
    ],
)
def test_bad_input(stream: bytes, problem: str) -> None:
    with pytest.raises(MalformedRecord, match=problem):
        list(gunzip_chunks([stream]))
