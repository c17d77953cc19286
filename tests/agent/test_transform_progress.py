"""TransformProgress counts what a transform sent, once per object even when a streamed try is retried."""

from __future__ import annotations

from collections.abc import Iterator

from ml_lifecycle.compute.local.transform.progress import TransformProgress


def _pieces(closed: list[bool]) -> Iterator[bytes]:
    """Yield three pieces of 4 bytes; note when closed.

    :param closed: gets True appended when the generator is closed.
    """
    try:
        yield from (b"abcd", b"efgh", b"ijkl")
    finally:
        closed.append(True)


def test_a_failed_try_takes_back_what_it_sent_and_the_retry_counts_once():
    progress = TransformProgress()
    first = progress.counted_bytes(_pieces([]))
    sent = iter(first)
    next(sent), next(sent)
    assert progress.bytes_sent == 8
    first.take_back()
    assert progress.bytes_sent == 0
    assert b"".join(progress.counted_bytes(_pieces([]))) == b"abcdefghijkl"
    assert progress.bytes_sent == 12


def test_closing_the_body_closes_its_source_at_once():
    closed: list[bool] = []
    progress = TransformProgress()
    body = iter(progress.counted_bytes(_pieces(closed)))
    next(body)
    body.close()  # type: ignore[attr-defined]
    assert closed == [True]
