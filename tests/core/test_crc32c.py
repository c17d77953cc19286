"""CRC-32C against published check values, piecewise continuation, and TFRecord's masking."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_lifecycle.core.crc32c import crc32c, masked_crc32c


@pytest.mark.parametrize(
    ("data", "crc"),
    [
        pytest.param(b"", 0x00000000, id="empty"),
        pytest.param(b"123456789", 0xE3069283, id="check-value"),
        # RFC 3720 (iSCSI), appendix B.4
        pytest.param(bytes(32), 0x8A9136AA, id="32-zeros"),
        pytest.param(b"\xff" * 32, 0x62A8AB43, id="32-ones"),
        pytest.param(bytes(range(32)), 0x46DD794E, id="incrementing"),
        pytest.param(bytes(range(31, -1, -1)), 0x113FDB5C, id="decrementing"),
    ],
)
def test_known_values(data: bytes, crc: int) -> None:
    assert crc32c(data) == crc


@pytest.mark.parametrize(
    ("data", "masked"),
    [
        pytest.param(b"", 0xA282EAD8, id="empty-is-the-mask-constant"),
        # the value another TensorFlow-compatible writer (a Rust TensorBoard crate) pins
        pytest.param(b"123456789", 0xC78AB0E5, id="check-value"),
    ],
)
def test_tfrecord_masking(data: bytes, masked: int) -> None:
    assert masked_crc32c(data) == masked


@given(st.binary(max_size=200), st.integers(min_value=0, max_value=200))
@settings(deadline=None, max_examples=300)
def test_continuing_from_a_prefix_equals_the_whole(data: bytes, cut: int) -> None:
    assert crc32c(data[cut:], crc32c(data[:cut])) == crc32c(data)


@given(st.binary(max_size=100))
@settings(deadline=None, max_examples=200)
def test_the_eight_byte_fold_agrees_with_the_bytewise_definition(data: bytes) -> None:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    assert crc32c(data) == crc ^ 0xFFFFFFFF
