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

    def counted_bytes(self, pieces: Iterable[bytes]) -> Iterator[bytes]:
        """Count the bytes of a streamed body as they are sent.

        :param pieces: the body's pieces.
        """
        for piece in pieces:
            with self._lock:
                self.bytes_sent += len(piece)
            yield piece

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
