"""The MultiRecord fast path for SplitType Line: cut the stream at newlines into bodies, without splitting lines.

It yields exactly what splitting into lines (empty lines dropped) and packing them greedily would, but its Python
work is per request, not per record: 200,000 rows cost three cuts instead of 200,000 slices.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from ml_lifecycle.core.batching import Batch
from ml_lifecycle.core.record_errors import too_large

_EMPTY_LINES = re.compile(rb"\n\n+")


def squeeze_empty_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Drop empty lines from a byte stream (as the line splitter skips them), across chunk boundaries.

    :param chunks: the bytes, in any chunk sizes.
    """
    after_newline = True  # the stream's start counts as a line start: leading newlines are empty lines
    for chunk in chunks:
        if after_newline:
            chunk = chunk.lstrip(b"\n")
        if b"\n\n" in chunk:
            chunk = _EMPTY_LINES.sub(b"\n", chunk)
        if chunk:
            after_newline = chunk.endswith(b"\n")
            yield chunk


def pack_lines(chunks: Iterable[bytes], max_payload_bytes: int) -> Iterator[Batch]:
    """Yield MultiRecord bodies of whole lines, each as long as fits in max_payload_bytes.

    :param chunks: the object's bytes, in any chunk sizes.
    :param max_payload_bytes: the most bytes per body; a longer line fails the object.
    """
    buffer = bytearray()
    first = 0
    stream = squeeze_empty_lines(chunks)
    ended = False
    while not ended or buffer:
        while not ended and len(buffer) <= max_payload_bytes:
            chunk = next(stream, None)
            if chunk is None:
                ended = True
            else:
                buffer += chunk
        if not buffer:
            return
        if ended and len(buffer) <= max_payload_bytes:
            cut = len(buffer)
        else:
            cut = buffer.rfind(b"\n", 0, max_payload_bytes) + 1
            if cut == 0:
                end = buffer.find(b"\n", max_payload_bytes)
                raise too_large(first, end + 1 if end >= 0 else len(buffer), max_payload_bytes)
        with memoryview(buffer) as view:
            body = view[:cut].tobytes()  # one copy (buffer[:cut] would copy twice)
        del buffer[:cut]
        count = body.count(b"\n") + (0 if body.endswith(b"\n") else 1)
        yield Batch(body, count, first)
        first += count
