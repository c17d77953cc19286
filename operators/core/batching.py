"""Split transform input into records (by SplitType) and pack records into requests by their real byte size."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from ml_lifecycle.core.errors import MlLifecycleError
from ml_lifecycle.core.record_errors import RecordTooLarge, too_large
from ml_lifecycle.core.recordio import split_recordio
from ml_lifecycle.core.tfrecord import split_tfrecord

MB = 1024 * 1024
# max_payload_mb 0 (SageMaker's MaxPayloadInMB=0): no record or request is too large.
UNLIMITED_PAYLOAD_BYTES = 1 << 62
SPLIT_TYPES = ("None", "Line", "RecordIO", "TFRecord")
Item = TypeVar("Item")

__all__ = [
    "MB",
    "SPLIT_TYPES",
    "UNLIMITED_PAYLOAD_BYTES",
    "Batch",
    "RecordTooLarge",
    "assemble",
    "batch_records",
    "split_records",
]


@dataclass(frozen=True)
class Batch:
    """One request body and the records in it.

    :param body: what is POSTed.
    :param count: how many records it holds.
    :param first_index: the index of its first record in the object.
    :param sources: the records as read (before input_filter), when a join needs them; else empty.
    """

    body: bytes
    count: int
    first_index: int
    sources: tuple[bytes, ...] = ()


def split_lines(chunks: Iterable[bytes], max_record_bytes: int | None = None) -> Iterator[bytes]:
    """Yield the lines of a byte stream, each with its newline (the last one may lack it); empty lines are skipped.

    :param chunks: the object's bytes, in any chunk sizes.
    :param max_record_bytes: a longer line fails as soon as that many bytes pass without a newline, so a file
        without newlines is never held whole.
    """
    pending: list[bytes] = []
    pending_size = 0
    index = 0
    for chunk in chunks:
        start = 0
        end = chunk.find(b"\n")
        if end >= 0 and pending:
            line = b"".join((*pending, chunk[: end + 1]))
            pending, pending_size = [], 0
            if max_record_bytes is not None and len(line) > max_record_bytes:
                raise too_large(index, len(line), max_record_bytes)
            yield line
            index += 1
            start = end + 1
            end = chunk.find(b"\n", start)
        while end >= 0:
            if end > start:
                if max_record_bytes is not None and end + 1 - start > max_record_bytes:
                    raise too_large(index, end + 1 - start, max_record_bytes)
                yield chunk[start : end + 1]
                index += 1
            start = end + 1
            end = chunk.find(b"\n", start)
        if start < len(chunk):
            pending.append(chunk[start:] if start else chunk)
            pending_size += len(chunk) - start
            if max_record_bytes is not None and pending_size > max_record_bytes:
                raise too_large(index, pending_size, max_record_bytes)
    if pending:
        yield b"".join(pending)


def whole_object(chunks: Iterable[bytes], max_record_bytes: int | None = None) -> Iterator[bytes]:
    """Yield the whole object as one record (SplitType None).

    :param chunks: the object's bytes.
    :param max_record_bytes: an object larger than this fails as soon as that many bytes have been read.
    """
    parts = []
    size = 0
    for chunk in chunks:
        parts.append(chunk)
        size += len(chunk)
        if max_record_bytes is not None and size > max_record_bytes:
            raise too_large(0, size, max_record_bytes)
    if size:
        yield b"".join(parts)


def split_records(
    chunks: Iterable[bytes], split_type: str, keep_framing: bool = True, max_record_bytes: int | None = None
) -> Iterator[bytes]:
    """Split a byte stream into records by SplitType.

    :param chunks: the object's bytes.
    :param split_type: ``Line``, ``None``, ``RecordIO`` or ``TFRecord``.
    :param keep_framing: for RecordIO and TFRecord, whether records keep their framing and padding (MultiRecord)
        or are sent as bare data (SingleRecord).
    :param max_record_bytes: a record larger than this fails before it is read whole.
    """
    if split_type == "Line":
        return split_lines(chunks, max_record_bytes)
    if split_type == "None":
        return whole_object(chunks, max_record_bytes)
    if split_type == "RecordIO":
        return split_recordio(chunks, keep_framing, max_record_bytes)
    if split_type == "TFRecord":
        return split_tfrecord(chunks, keep_framing, max_record_bytes)
    raise MlLifecycleError(f"split_type {split_type!r} is not supported; use one of {', '.join(SPLIT_TYPES)}")


def _pack(
    items: Iterable[Item], size_of: Callable[[Item], int], max_payload_bytes: int, strategy: str
) -> Iterator[list[Item]]:
    """Group items into runs that fit the payload: one each (SingleRecord) or greedily as many as fit (MultiRecord).

    A running byte count decides, so packing is linear in the input size.

    :param items: the records, in input order.
    :param size_of: the size in bytes of what an item adds to a request.
    :param max_payload_bytes: the most bytes one request body may hold.
    :param strategy: ``SingleRecord`` or ``MultiRecord``.
    """
    batch: list[Item] = []
    size = 0
    single = strategy == "SingleRecord"
    for index, item in enumerate(items):
        length = size_of(item)
        if length > max_payload_bytes:
            raise too_large(index, length, max_payload_bytes)
        if single:
            yield [item]
            continue
        if size + length > max_payload_bytes and batch:
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += length
    if batch:
        yield batch


def batch_records(records: Iterable[bytes], max_payload_bytes: int, strategy: str) -> Iterator[Batch]:
    """Pack records into request bodies: one each (SingleRecord) or as many as fit (MultiRecord).

    :param records: the records, in input order.
    :param max_payload_bytes: the most bytes one request body may hold.
    :param strategy: ``SingleRecord`` or ``MultiRecord``.
    """
    first = 0
    for batch in _pack(records, len, max_payload_bytes, strategy):
        yield Batch(batch[0] if len(batch) == 1 else b"".join(batch), len(batch), first)
        first += len(batch)


def batch_with_sources(pairs: Iterable[tuple[bytes, bytes]], max_payload_bytes: int, strategy: str) -> Iterator[Batch]:
    """Pack (what is sent, the record as read) pairs, keeping the records as read for a join.

    :param pairs: (filtered record, original record), in input order; only the first counts towards the payload.
    :param max_payload_bytes: the most bytes one request body may hold.
    :param strategy: ``SingleRecord`` or ``MultiRecord``.
    """
    first = 0
    for batch in _pack(pairs, _sent_size, max_payload_bytes, strategy):
        yield Batch(b"".join(sent for sent, _ in batch), len(batch), first, tuple(source for _, source in batch))
        first += len(batch)


def _sent_size(pair: tuple[bytes, bytes]) -> int:
    """Return the size of what a pair sends.

    :param pair: (filtered record, original record).
    """
    return len(pair[0])


def assemble(response: bytes, assemble_with: str) -> bytes:
    """Return a response as it is written to the .out object.

    With ``Line`` each response ends in exactly one newline it may already carry; ``None`` keeps bytes as they are.

    :param response: the body the container returned.
    :param assemble_with: ``Line`` or ``None``.
    """
    if assemble_with == "Line" and not response.endswith(b"\n"):
        return response + b"\n"
    return response
