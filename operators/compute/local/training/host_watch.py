"""Follow a job's containers: stream each host's log with its prefix, scan metrics, enforce the deadline."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine
from ml_lifecycle.core.contract import STOP_GRACE_TRAINING_S
from ml_lifecycle.core.metrics import MetricScanner

log = logging.getLogger(__name__)

LogSink = Callable[[str], None]


@dataclass
class WatchResult:
    """How the hosts ended.

    :param exit_codes: host -> exit code.
    :param max_runtime_exceeded: whether the deadline stopped the job.
    :param stopped: whether stop() was called.
    :param oom_killed: the hosts the out-of-memory killer ended.
    """

    exit_codes: dict[str, int] = field(default_factory=dict)
    oom_killed: set[str] = field(default_factory=set)
    max_runtime_exceeded: bool = False
    stopped: bool = False

    @property
    def worst_exit_code(self) -> int:
        """The first non-zero exit code in host order, or 0."""
        return next((code for _, code in sorted(self.exit_codes.items()) if code != 0), 0)


class HostWatcher:
    """Streams and waits for the containers of one job; stop() may be called from another thread."""

    def __init__(
        self,
        engine: DockerEngine,
        containers: Mapping[str, Any],
        scanner: MetricScanner,
        sink: LogSink,
        grace_s: int = STOP_GRACE_TRAINING_S,
    ) -> None:
        """Prepare to watch.

        :param engine: the engine the containers run on.
        :param containers: host -> started container.
        :param scanner: collects metrics from the log lines.
        :param sink: receives each prefixed log line (the task log).
        :param grace_s: seconds between SIGTERM and SIGKILL when stopping.
        """
        self.engine = engine
        self.containers = dict(containers)
        self.scanner = scanner
        self.sink = sink
        self.grace_s = grace_s
        self.result = WatchResult()
        self._lock = threading.Lock()
        self._started_s = time.monotonic()

    def _follow(self, host: str, container: Any) -> None:
        """Stream one host's log, then record its exit code.

        :param host: the host name.
        :param container: its container.
        """
        try:
            for line in self.engine.follow_logs(container):
                elapsed_s = time.monotonic() - self._started_s
                with self._lock:
                    self.scanner.scan(line, elapsed_s)
                self.sink(f"[{host}] {line}")
        except Exception as err:
            log.warning("Log stream of %s ended early: %s", host, err)
        code = self.engine.wait(container)
        oom = code != 0 and self.engine.oom_killed(container)
        with self._lock:
            self.result.exit_codes[host] = code
            if oom:
                self.result.oom_killed.add(host)

    def watch(self, max_runtime_s: int) -> WatchResult:
        """Follow every host until all exit; past max_runtime_s stop them (SIGTERM, then SIGKILL after the grace).

        :param max_runtime_s: the job's runtime limit in seconds.
        """
        threads = [
            threading.Thread(target=self._follow, args=(host, c), name=f"follow-{host}", daemon=True)
            for host, c in sorted(self.containers.items())
        ]
        for thread in threads:
            thread.start()
        deadline = self._started_s + max_runtime_s
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in threads):
            self.result.max_runtime_exceeded = not self.result.stopped
            self.sink(f"MaxRuntimeExceeded: stopping after {max_runtime_s} s (SIGKILL {self.grace_s} s after SIGTERM)")
            self._stop_all()
            for thread in threads:
                thread.join()
        return self.result

    def metric_series(self) -> dict[str, list[list[float]]]:
        """Return a copy of the metric series seen so far (the hosts' log threads add to them meanwhile)."""
        with self._lock:
            return {name: [list(point) for point in points] for name, points in self.scanner.series.items()}

    def stop(self) -> None:
        """Stop the job on request (on_kill, teardown): SIGTERM, then SIGKILL after the grace."""
        self.result.stopped = True
        self._stop_all()

    def _stop_all(self) -> None:
        """Stop every host's container in parallel."""
        stoppers = [
            threading.Thread(target=self.engine.stop, args=(c, self.grace_s), daemon=True)
            for c in self.containers.values()
        ]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()
