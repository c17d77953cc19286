"""The MultiRecord line fast path gives exactly the bodies, counts and errors of splitting lines and packing them."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_lifecycle.core.batching import batch_records, split_lines
from ml_lifecycle.core.line_packing import pack_lines, squeeze_empty_lines
from ml_lifecycle.core.record_errors import RecordTooLarge

PROPERTY = settings(deadline=None, max_examples=400)
# Short lines with runs of empty lines, CRLF and a missing final newline all likely.
TEXT = st.lists(st.sampled_from([b"a", b"bc", b"defgh", b"\n", b"\n\n", b"\r\n", b"x" * 9]), max_size=40).map(b"".join)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    """Cut data at the given offsets."""
    bounds = [0, *sorted({min(c, len(data)) for c in cuts}), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def slow(data: bytes, limit: int) -> list[tuple[bytes, int, int]] | str:
    """What the general path yields (body, count, first index), or the error it raises."""
    try:
        return [(b.body, b.count, b.first_index) for b in batch_records(split_lines([data]), limit, "MultiRecord")]
    except RecordTooLarge as err:
        return str(err).split(" is ")[0]


def fast(chunks: list[bytes], limit: int) -> list[tuple[bytes, int, int]] | str:
    """What the fast path yields, or the start of the error it raises."""
    try:
        return [(b.body, b.count, b.first_index) for b in pack_lines(chunks, limit)]
    except RecordTooLarge as err:
        return str(err).split(" is ")[0]


@given(TEXT, st.lists(st.integers(min_value=0, max_value=200), max_size=12), st.integers(min_value=1, max_value=30))
@PROPERTY
def test_same_as_splitting_and_packing(data: bytes, cuts: list[int], limit: int) -> None:
    assert fast(chunked(data, cuts), limit) == slow(data, limit)


@given(TEXT, st.lists(st.integers(min_value=0, max_value=200), max_size=12))
@PROPERTY
def test_squeezing_keeps_every_non_empty_line(data: bytes, cuts: list[int]) -> None:
    squeezed = b"".join(squeeze_empty_lines(chunked(data, cuts)))
    assert list(split_lines([squeezed])) == list(split_lines([data]))
    assert b"\n\n" not in squeezed and not squeezed.startswith(b"\n")


@pytest.mark.parametrize(
    ("data", "limit", "bodies"),
    [
        pytest.param(b"aaa\nbbb\nccc\n", 8, [b"aaa\nbbb\n", b"ccc\n"], id="cut-at-the-last-newline-that-fits"),
        pytest.param(b"aaa\nbbb\n", 8, [b"aaa\nbbb\n"], id="exact-fit"),
        pytest.param(b"aaa\nbbb", 7, [b"aaa\nbbb"], id="last-line-without-newline-at-the-limit"),
        pytest.param(b"\n\naaa\n\n\nb\n\n", 6, [b"aaa\nb\n"], id="empty-lines-dropped-before-packing"),
        pytest.param(b"", 8, [], id="empty"),
    ],
)
def test_bodies(data: bytes, limit: int, bodies: list[bytes]) -> None:
    assert [b.body for b in pack_lines([data], limit)] == bodies


def test_a_line_over_the_limit_names_its_index_and_size() -> None:
    with pytest.raises(RecordTooLarge, match="record 2 is 9 bytes, over the 8-byte max payload"):
        list(pack_lines([b"a\nb\n12345678\nc\n"], 8))
