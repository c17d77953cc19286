"""Keep a running job's metric series in its record, so early stopping (and the page) read the curve so far."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from ml_lifecycle.compute.records import RecordWriter

log = logging.getLogger(__name__)

# How often the record is rewritten while new metric values arrive (never when none did).
LIVE_METRICS_INTERVAL_S = 2.0

Series = dict[str, list[list[float]]]


class LiveMetrics:
    """Writes the metric series seen so far into the job's record, at an interval, while the containers run.

    :param writer: the job record's writer.
    :param snapshot: returns a copy of the series seen so far (metric name -> [seconds since start, value]).
    :param interval_s: seconds between writes.
    """

    def __init__(self, writer: RecordWriter, snapshot: Callable[[], Series], interval_s: float) -> None:
        self.writer = writer
        self.snapshot = snapshot
        self.interval_s = interval_s
        self._points = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="live-metrics", daemon=True)

    def __enter__(self) -> LiveMetrics:
        """Start writing in the background."""
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Stop writing (the owner writes the final record after this, so it is never overwritten).

        :param exc_info: the error under way, if any (never hidden).
        """
        self.stop()

    def stop(self) -> None:
        """Stop writing and wait for a write under way (the final record is written after this, by its owner)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        """Write the series whenever it grew, until stopped; a failed write is logged (the next one may succeed)."""
        while not self._stop.wait(self.interval_s):
            series = self.snapshot()
            points = sum(len(values) for values in series.values())
            if points == self._points:
                continue
            self._points = points
            record = self.writer.record
            record.metric_series = series
            record.metrics = {name: values[-1][1] for name, values in series.items() if values}
            try:
                self.writer.save()
            except Exception as err:
                log.warning("Could not write the metrics so far of %s: %s", record.job_name, err)
