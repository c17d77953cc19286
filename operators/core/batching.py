"""Split transform input into records and pack records into requests by their real byte size."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ml_lifecycle.errors import MlLifecycleError

MB = 1024 * 1024


class RecordTooLarge(MlLifecycleError):
    """A single record does not fit in max_payload_mb."""


def split_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Yield the lines of a byte stream, each with its newline (the last one may lack it); empty lines are skipped.

    :param chunks: the object's bytes, in any chunk sizes.
    """
    pending = b""
    for chunk in chunks:
        if not chunk:
            continue
        data = pending + chunk if pending else chunk
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            if end > start:
                yield data[start : end + 1]
            start = end + 1
        pending = data[start:]
    if pending:
        yield pending


def whole_object(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Yield the whole object as one record (SplitType None).

    :param chunks: the object's bytes.
    """
    data = b"".join(chunks)
    if data:
        yield data


def split_records(chunks: Iterable[bytes], split_type: str) -> Iterator[bytes]:
    """Split a byte stream into records by SplitType.

    :param chunks: the object's bytes.
    :param split_type: ``Line`` or ``None``.
    """
    if split_type == "Line":
        return split_lines(chunks)
    if split_type == "None":
        return whole_object(chunks)
    raise MlLifecycleError(f"split_type {split_type!r} is not supported yet; use 'Line' or 'None'")


def batch_records(records: Iterable[bytes], max_payload_bytes: int, strategy: str) -> Iterator[bytes]:
    """Pack records into request bodies: one each (SingleRecord) or as many as fit (MultiRecord).

    A running byte count decides the packing, so packing is linear in the input size.

    :param records: the records, in input order.
    :param max_payload_bytes: the most bytes one request body may hold.
    :param strategy: ``SingleRecord`` or ``MultiRecord``.
    """
    batch: list[bytes] = []
    size = 0
    for index, record in enumerate(records):
        if len(record) > max_payload_bytes:
            raise RecordTooLarge(
                f"record {index} is {len(record)} bytes, over the {max_payload_bytes}-byte max payload; "
                "raise max_payload_mb (at most 100) or split the input into smaller records"
            )
        if strategy == "SingleRecord":
            yield record
            continue
        if size + len(record) > max_payload_bytes and batch:
            yield b"".join(batch)
            batch, size = [], 0
        batch.append(record)
        size += len(record)
    if batch:
        yield b"".join(batch)


def assemble(response: bytes, assemble_with: str) -> bytes:
    """Return a response as it is written to the .out object.

    With ``Line`` each response ends in exactly one newline it may already carry; ``None`` keeps bytes as they are.

    :param response: the body the container returned.
    :param assemble_with: ``Line`` or ``None``.
    """
    if assemble_with == "Line" and not response.endswith(b"\n"):
        return response + b"\n"
    return response
