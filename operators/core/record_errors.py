"""Errors of one input object's records; each fails that object's transform, never the others."""

from __future__ import annotations

from ml_lifecycle.core.errors import MlLifecycleError


class RecordError(MlLifecycleError):
    """A record of one input object cannot be sent or written; the object fails, the job carries on."""


class RecordTooLarge(RecordError):
    """A single record does not fit in max_payload_mb."""


class MalformedRecord(RecordError):
    """The input is not framed as its split_type says (RecordIO, TFRecord) or fails a checksum."""


class DataProcessingError(RecordError):
    """input_filter, join_source or output_filter cannot be applied to a record or its response."""


def too_large(index: int, size: int, max_payload_bytes: int) -> RecordTooLarge:
    """Build the error for a record over the payload limit.

    :param index: the record's index in its object, from 0.
    :param size: its size in bytes (at least this many when the record was cut short while reading).
    :param max_payload_bytes: the limit.
    """
    return RecordTooLarge(
        f"record {index} is {size} bytes, over the {max_payload_bytes}-byte max payload; "
        "raise max_payload_mb (at most 100) or split the input into smaller records"
    )
