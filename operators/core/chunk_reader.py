"""Read exact byte counts from a stream that arrives in chunks of any size, holding at most one chunk."""

from __future__ import annotations

from collections.abc import Iterable


class ChunkReader:
    """Exact-size reads over an iterable of byte chunks; ``position`` counts the bytes consumed."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        """Start at the first byte of the stream.

        :param chunks: the bytes, in chunks of any size (empty chunks are allowed).
        """
        self._chunks = iter(chunks)
        self._chunk = b""
        self._offset = 0
        self.position = 0

    def read(self, size: int) -> bytes:
        """Return the next ``size`` bytes, or fewer only when the stream ends first.

        :param size: how many bytes.
        """
        end = self._offset + size
        if end <= len(self._chunk):
            data = self._chunk[self._offset : end]
            self._offset = end
            self.position += size
            return data
        parts = [self._chunk[self._offset :]]
        missing = size - len(parts[0])
        self._chunk, self._offset = b"", 0
        for chunk in self._chunks:
            if len(chunk) >= missing:
                parts.append(chunk[:missing])
                self._chunk, self._offset = chunk, missing
                missing = 0
                break
            parts.append(chunk)
            missing -= len(chunk)
        data = b"".join(parts)
        self.position += len(data)
        return data
