"""MXNet RecordIO framing: split a stream into records (SplitType RecordIO), and frame records for tests and tools.

Each frame is ``magic (uint32 LE 0xced7230a) | lrecord (uint32 LE) | data | zero padding to 4 bytes``, where the
upper 3 bits of lrecord are a continuation flag and the lower 29 bits the data length. A writer that meets the magic
word at a 4-byte aligned offset of a payload cuts the payload there and drops the word (flag 1 = first part,
2 = middle, 3 = last; 0 = a whole record); a reader joins the parts with the magic word again.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator

from ml_lifecycle.core.chunk_reader import ChunkReader
from ml_lifecycle.core.record_errors import MalformedRecord, too_large

MAGIC = 0xCED7230A
MAGIC_BYTES = struct.pack("<I", MAGIC)
LENGTH_BITS = 29
LENGTH_MASK = (1 << LENGTH_BITS) - 1
WHOLE, FIRST, MIDDLE, LAST = 0, 1, 2, 3
_HEADER = struct.Struct("<II")


def _padding(length: int) -> int:
    """Return how many zero bytes follow ``length`` bytes of data to reach a multiple of 4.

    :param length: the data length.
    """
    return -length % 4


def frame_recordio(payload: bytes) -> bytes:
    """Frame one payload as MXNet's RecordIOWriter does, cutting it at 4-byte aligned magic words.

    :param payload: the record's bytes (less than 2**29).
    """
    if len(payload) > LENGTH_MASK:
        raise ValueError(f"a RecordIO record holds at most {LENGTH_MASK} bytes, not {len(payload)}")
    frames = []
    start = 0
    for offset in range(0, len(payload) - 3, 4):
        if payload[offset : offset + 4] == MAGIC_BYTES:
            flag = FIRST if start == 0 else MIDDLE
            frames.append(_HEADER.pack(MAGIC, flag << LENGTH_BITS | (offset - start)) + payload[start:offset])
            start = offset + 4
    flag = LAST if frames else WHOLE
    rest = payload[start:]
    frames.append(_HEADER.pack(MAGIC, flag << LENGTH_BITS | len(rest)) + rest + b"\0" * _padding(len(rest)))
    return b"".join(frames)


def split_recordio(chunks: Iterable[bytes], keep_framing: bool, max_record_bytes: int | None = None) -> Iterator[bytes]:
    """Yield the records of a RecordIO stream, reading it in bounded memory.

    :param chunks: the object's bytes, in chunks of any size.
    :param keep_framing: True yields each record's frames as stored, padding included, so a concatenation is
        RecordIO again (MultiRecord); False yields the record's data alone (SingleRecord strips the framing).
    :param max_record_bytes: a record larger than this (as it would be sent) fails before it is read whole.
    """
    reader = ChunkReader(chunks)
    index = 0
    while True:
        start = reader.position
        parts: list[bytes] = []
        size = 0
        flag = None
        while flag not in (WHOLE, LAST):
            at = reader.position
            header = reader.read(_HEADER.size)
            if not header and flag is None:
                return
            if len(header) < _HEADER.size:
                raise MalformedRecord(
                    f"RecordIO record {index} (byte {start}) is cut short: the input ends inside a frame header at "
                    f"byte {at}; the object is truncated, or it is not RecordIO (set split_type to match the data)"
                )
            magic, lrecord = _HEADER.unpack(header)
            if magic != MAGIC:
                raise MalformedRecord(
                    f"RecordIO record {index}: byte {at} holds 0x{magic:08x}, not the magic number 0x{MAGIC:08x}; "
                    "the object is not MXNet RecordIO or is corrupt (set split_type to match the data)"
                )
            flag, length = lrecord >> LENGTH_BITS, lrecord & LENGTH_MASK
            if flag > LAST or (flag in (WHOLE, FIRST)) != (not parts):
                raise MalformedRecord(
                    f"RecordIO record {index}: the frame at byte {at} has continuation flag {flag}, which cannot "
                    f"{'start' if not parts else 'continue'} a record; the object is corrupt"
                )
            stored = length + _padding(length)
            added = _HEADER.size + stored if keep_framing else length + (len(MAGIC_BYTES) if parts else 0)
            if max_record_bytes is not None and size + added > max_record_bytes:
                raise too_large(index, size + added, max_record_bytes)
            body = reader.read(stored)
            if len(body) < stored:
                raise MalformedRecord(
                    f"RecordIO record {index} (byte {start}) is cut short: its frame at byte {at} announces "
                    f"{length} bytes but the object ends first; the object is truncated"
                )
            if keep_framing:
                parts.append(header + body)
            else:
                if parts:
                    parts.append(MAGIC_BYTES)
                parts.append(body[:length] if stored != length else body)
            size += added
        yield b"".join(parts) if len(parts) != 1 else parts[0]
        index += 1
