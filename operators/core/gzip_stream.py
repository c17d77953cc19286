"""Decompress a gzip stream (CompressionType Gzip) chunk by chunk, in bounded memory, members one after another."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator

from ml_lifecycle.core.record_errors import MalformedRecord

GZIP_WBITS = 16 + zlib.MAX_WBITS
OUT_CHUNK_BYTES = 8 * 1024 * 1024


def gunzip_chunks(chunks: Iterable[bytes], out_chunk_bytes: int = OUT_CHUNK_BYTES) -> Iterator[bytes]:
    """Yield the decompressed bytes of a gzip stream (several concatenated members are one stream).

    No output chunk exceeds out_chunk_bytes, so a small, highly compressed input cannot fill memory.

    :param chunks: the compressed bytes, in chunks of any size.
    :param out_chunk_bytes: the most bytes per yielded chunk.
    """
    decompressor = zlib.decompressobj(GZIP_WBITS)
    started = False
    for chunk in chunks:
        data = chunk
        while True:
            if not started:
                data = data.lstrip(b"\0")  # zero padding between or after members is allowed, as gzip(1) does
                if not data:
                    break
                started = True
            try:
                out = decompressor.decompress(data, out_chunk_bytes)
            except zlib.error as err:
                raise MalformedRecord(
                    f"the object is not valid gzip ({err}); set compression_type='None' for uncompressed input"
                ) from err
            if out:
                yield out
            if decompressor.eof:
                data = decompressor.unused_data
                decompressor = zlib.decompressobj(GZIP_WBITS)
                started = False
                continue
            data = decompressor.unconsumed_tail
            if not data and len(out) < out_chunk_bytes:
                break  # this chunk is used up; a full output chunk may leave more pending inside zlib
    if started:
        raise MalformedRecord("the gzip stream ends before its end marker: the object is truncated")
