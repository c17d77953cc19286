"""TFRecord framing: split a stream into records (SplitType TFRecord) with both CRCs checked, and frame records.

Each record is ``length (uint64 LE) | masked crc32c of the length bytes (uint32 LE) | data | masked crc32c of
the data (uint32 LE)``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator

from ml_lifecycle.core.chunk_reader import ChunkReader
from ml_lifecycle.core.crc32c import masked_crc32c
from ml_lifecycle.core.record_errors import MalformedRecord, too_large

_LENGTH = struct.Struct("<Q")
_CRC = struct.Struct("<I")
HEADER_BYTES = _LENGTH.size + _CRC.size
FOOTER_BYTES = _CRC.size


def frame_tfrecord(payload: bytes) -> bytes:
    """Frame one payload as TensorFlow's TFRecordWriter does.

    :param payload: the record's bytes.
    """
    length = _LENGTH.pack(len(payload))
    return length + _CRC.pack(masked_crc32c(length)) + payload + _CRC.pack(masked_crc32c(payload))


def split_tfrecord(chunks: Iterable[bytes], keep_framing: bool, max_record_bytes: int | None = None) -> Iterator[bytes]:
    """Yield the records of a TFRecord stream, checking both CRCs of each, in bounded memory.

    :param chunks: the object's bytes, in chunks of any size.
    :param keep_framing: True yields each record as stored (length, CRCs and data), so a concatenation is a
        TFRecord stream again (MultiRecord); False yields the data alone (SingleRecord strips the framing).
    :param max_record_bytes: a record larger than this (as it would be sent) fails before it is read.
    """
    reader = ChunkReader(chunks)
    index = 0
    while True:
        start = reader.position
        header = reader.read(HEADER_BYTES)
        if not header:
            return
        if len(header) < HEADER_BYTES:
            raise MalformedRecord(
                f"TFRecord record {index} (byte {start}) is cut short: the input ends inside its header; "
                "the object is truncated, or it is not TFRecord (set split_type to match the data)"
            )
        length_bytes = header[: _LENGTH.size]
        (length,) = _LENGTH.unpack(length_bytes)
        (length_crc,) = _CRC.unpack(header[_LENGTH.size :])
        if length_crc != masked_crc32c(length_bytes):
            raise MalformedRecord(
                f"TFRecord record {index} (byte {start}): the CRC of its length field does not match; "
                "the object is not TFRecord or is corrupt (set split_type to match the data)"
            )
        size = HEADER_BYTES + length + FOOTER_BYTES if keep_framing else length
        if max_record_bytes is not None and size > max_record_bytes:
            raise too_large(index, size, max_record_bytes)
        data = reader.read(length)
        footer = reader.read(FOOTER_BYTES)
        if len(footer) < FOOTER_BYTES:
            raise MalformedRecord(
                f"TFRecord record {index} (byte {start}) is cut short: it announces {length} bytes but the "
                "object ends first; the object is truncated"
            )
        if _CRC.unpack(footer)[0] != masked_crc32c(data):
            raise MalformedRecord(
                f"TFRecord record {index} (byte {start}): the CRC of its {length} data bytes does not match; "
                "the object is corrupt"
            )
        yield header + data + footer if keep_framing else data
        index += 1
