"""CRC-32C (Castagnoli), table-driven, and TFRecord's masked form of it; pure Python, no dependency."""

from __future__ import annotations

import struct

_POLYNOMIAL = 0x82F63B78  # the Castagnoli polynomial, bit-reversed
_MASK_DELTA = 0xA282EAD8  # TFRecord's masking constant


def _make_tables() -> list[list[int]]:
    """Build the eight 256-entry tables of the slicing-by-8 method (the first is the classic byte table)."""
    first = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _POLYNOMIAL if crc & 1 else crc >> 1
        first.append(crc)
    tables = [first]
    for _ in range(7):
        previous = tables[-1]
        tables.append([(previous[i] >> 8) ^ first[previous[i] & 0xFF] for i in range(256)])
    return tables


_TABLES = _make_tables()


def crc32c(data: bytes, crc: int = 0) -> int:
    """Return the CRC-32C of data (continuing from crc, so a stream can be checked piece by piece).

    Eight bytes are folded per step (slicing-by-8): in pure Python the loop, not the arithmetic, is the cost.

    :param data: the bytes.
    :param crc: the CRC of the bytes before data; 0 to start.
    """
    t0, t1, t2, t3, t4, t5, t6, t7 = _TABLES
    crc ^= 0xFFFFFFFF
    view = memoryview(data)
    whole = len(view) - len(view) % 8
    for (word,) in struct.iter_unpack("<Q", view[:whole]):
        low = (word & 0xFFFFFFFF) ^ crc
        high = word >> 32
        crc = (
            t7[low & 0xFF]
            ^ t6[(low >> 8) & 0xFF]
            ^ t5[(low >> 16) & 0xFF]
            ^ t4[low >> 24]
            ^ t3[high & 0xFF]
            ^ t2[(high >> 8) & 0xFF]
            ^ t1[(high >> 16) & 0xFF]
            ^ t0[high >> 24]
        )
    for byte in view[whole:]:
        crc = (crc >> 8) ^ t0[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """Return TFRecord's masked CRC-32C of data (rotated right by 15 bits, plus a constant).

    :param data: the bytes.
    """
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF
