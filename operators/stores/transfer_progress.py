"""Progress of a transfer of many files: bytes done, percent and throughput in the task log, every few seconds."""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 5.0


class TransferProgress:
    """Counts transferred bytes from many threads and logs progress at most every PROGRESS_INTERVAL_S."""

    def __init__(self, label: str, total_bytes: int) -> None:
        """Start the clock.

        :param label: what is being transferred (the URI).
        :param total_bytes: the expected total.
        """
        self._label = label
        self._total_bytes = total_bytes
        self._done_bytes = 0
        self._start_s = time.monotonic()
        self._last_log_s = self._start_s
        self._lock = threading.Lock()

    def add(self, transferred_bytes: int) -> None:
        """Count bytes (a boto3 transfer callback) and log when the interval has passed.

        :param transferred_bytes: bytes moved since the last call for this file.
        """
        with self._lock:
            self._done_bytes += transferred_bytes
            now_s = time.monotonic()
            if now_s - self._last_log_s < PROGRESS_INTERVAL_S:
                return
            self._last_log_s = now_s
        self._log(now_s)

    def finish(self) -> None:
        """Log the final totals."""
        self._log(time.monotonic())

    def _log(self, now_s: float) -> None:
        """Log bytes done, percent and throughput.

        :param now_s: the current monotonic time.
        """
        done_mb = self._done_bytes / 1e6
        percent = 100.0 * self._done_bytes / self._total_bytes if self._total_bytes else 100.0
        rate_mb_s = done_mb / max(now_s - self._start_s, 1e-6)
        log.info(
            "Downloading %s: %.1f of %.1f MB (%.0f%%) at %.1f MB/s",
            self._label,
            done_mb,
            self._total_bytes / 1e6,
            percent,
            rate_mb_s,
        )
