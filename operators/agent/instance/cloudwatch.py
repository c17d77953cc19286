"""Ship log lines to CloudWatch Logs in batches; Logs being unavailable never fails the job."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 2.0
MAX_BATCH_EVENTS = 1000  # below PutLogEvents' 10,000
MAX_BATCH_BYTES = 900_000  # below PutLogEvents' 1,048,576 (each event counts 26 bytes more)
MAX_EVENT_BYTES = 200_000  # below the 256 KiB event limit
MAX_BUFFERED_EVENTS = 100_000  # beyond this, while Logs is unreachable, the oldest lines are dropped
CLOSE_TIMEOUT_S = 20.0


class CloudWatchShipper:
    """Buffers lines and sends them to one log stream from a background thread.

    :param client_factory: returns a boto3 CloudWatch Logs client.
    :param group: the log group, created when missing.
    :param stream: the log stream, created when missing.
    """

    def __init__(self, client_factory: Callable[[], Any], group: str, stream: str) -> None:
        self._client_factory = client_factory
        self.group = group
        self.stream = stream
        self._pending: deque[tuple[int, str]] = deque(maxlen=MAX_BUFFERED_EVENTS)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._ready = False
        self._warned: set[str] = set()
        self._thread = threading.Thread(target=self._loop, name="cloudwatch-logs", daemon=True)
        self._thread.start()

    def __call__(self, line: str) -> None:
        """Queue one line (thread-safe; never blocks on the network).

        :param line: the log line.
        """
        text = line[:MAX_EVENT_BYTES] or " "
        with self._lock:
            self._pending.append((int(time.time() * 1000), text))
        if len(self._pending) >= MAX_BATCH_EVENTS:
            self._wake.set()

    def close(self) -> None:
        """Send what is queued (waiting at most CLOSE_TIMEOUT_S) and stop."""
        self._closing.set()
        self._wake.set()
        self._thread.join(CLOSE_TIMEOUT_S)

    def _loop(self) -> None:
        """Flush every interval until closed, then flush what is left."""
        while not self._closing.is_set():
            self._wake.wait(FLUSH_INTERVAL_S)
            self._wake.clear()
            self._flush()
        self._flush()

    def _flush(self) -> None:
        """Send the queued lines in batches; on an error keep them for the next flush."""
        while self._pending:
            with self._lock:
                batch = self._batch()
            try:
                self._ensure_stream()
                self._client_factory().put_log_events(
                    logGroupName=self.group,
                    logStreamName=self.stream,
                    logEvents=[{"timestamp": stamp, "message": text} for stamp, text in batch],
                )
            except Exception as err:  # Logs must never fail the job: keep the lines and warn once per kind
                with self._lock:
                    self._pending.extendleft(reversed(batch))
                self._warn(err)
                return

    def _batch(self) -> list[tuple[int, str]]:
        """Take the next batch off the queue (call with the lock held)."""
        batch: list[tuple[int, str]] = []
        size = 0
        while self._pending and len(batch) < MAX_BATCH_EVENTS:
            _stamp, text = self._pending[0]
            cost = len(text.encode()) + 26
            if batch and size + cost > MAX_BATCH_BYTES:
                break
            batch.append(self._pending.popleft())
            size += cost
        return sorted(batch, key=lambda event: event[0])

    def _ensure_stream(self) -> None:
        """Create the group and the stream once, tolerating ones that exist."""
        if self._ready:
            return
        client = self._client_factory()
        for create, kwargs in (
            (client.create_log_group, {"logGroupName": self.group}),
            (client.create_log_stream, {"logGroupName": self.group, "logStreamName": self.stream}),
        ):
            with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
                create(**kwargs)
        self._ready = True

    def _warn(self, err: Exception) -> None:
        """Log a shipping error once per error type.

        :param err: the error.
        """
        kind = type(err).__name__
        if kind not in self._warned:
            self._warned.add(kind)
            log.warning(
                "Cannot write to CloudWatch Logs %s/%s (%s); lines are kept and retried. Grant the instance role "
                "logs:CreateLogGroup, logs:CreateLogStream and logs:PutLogEvents",
                self.group,
                self.stream,
                err,
            )
