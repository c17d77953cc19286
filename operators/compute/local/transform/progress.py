"""What a batch transform has sent so far, counted from many threads and reported every few seconds."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator

from ml_lifecycle.core.batching import MB, Batch

PROGRESS_INTERVAL_S = 5.0


class TransformProgress:
    """Counts records (requests, for objects streamed whole) and bytes sent; safe to share between threads."""

    def __init__(self) -> None:
        """Start at zero."""
        self._lock = threading.Lock()
        self.records = 0
        self.bytes_sent = 0

    def counted(self, batches: Iterable[Batch]) -> Iterator[Batch]:
        """Count records and bytes of requests as they stream past.

        :param batches: the requests.
        """
        for batch in batches:
            with self._lock:
                self.records += batch.count
                self.bytes_sent += len(batch.body)
            yield batch

    def counted_bytes(self, pieces: Iterable[bytes]) -> CountedBody:
        """Count the bytes of a streamed body as they are sent (taken back if its try fails).

        :param pieces: the body's pieces.
        """
        return CountedBody(self, pieces)

    def add_bytes(self, count: int) -> None:
        """Count bytes sent (negative to take them back).

        :param count: how many.
        """
        with self._lock:
            self.bytes_sent += count

    def add_requests(self, count: int) -> None:
        """Count whole-object requests (their records are not counted one by one).

        :param count: how many.
        """
        with self._lock:
            self.records += count

    def report_until_done(self, workers: list[threading.Thread], started: float, sink: Callable[[str], None]) -> None:
        """Wait for the workers, reporting records, bytes and rate every PROGRESS_INTERVAL_S.

        :param workers: the host worker threads.
        :param started: the monotonic start time.
        :param sink: receives progress lines.
        """
        while any(w.is_alive() for w in workers):
            for worker in workers:
                worker.join(PROGRESS_INTERVAL_S / len(workers))
            if any(w.is_alive() for w in workers):
                elapsed_s = time.monotonic() - started
                sink(
                    f"Transform progress: {self.records} records, {self.bytes_sent / MB:.1f} MB, "
                    f"{self.records / elapsed_s:.0f} records/s"
                )


class CountedBody:
    """A streamed body whose bytes count in a TransformProgress as they are sent; a failed try takes them back."""

    def __init__(self, progress: TransformProgress, pieces: Iterable[bytes]) -> None:
        """Wrap the body's pieces.

        :param progress: where the bytes count.
        :param pieces: the body's pieces.
        """
        self._progress = progress
        self._pieces = pieces
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        """Yield the pieces, counting each as it goes; closing this closes the pieces' source at once."""
        try:
            for piece in self._pieces:
                self._progress.add_bytes(len(piece))
                self.sent += len(piece)
                yield piece
        finally:
            close = getattr(self._pieces, "close", None)
            if close is not None:
                close()

    def take_back(self) -> None:
        """Uncount what this body sent: its try failed, and the retry sends it again."""
        self._progress.add_bytes(-self.sent)
        self.sent = 0
