"""The runners of stored jobs (operator, spec, job backend), built once per process and kept while jobs are asked about.

Building one takes a backend, its stores and their AWS clients (a few hundred milliseconds for a boto3 client), so a
poll of Describe every second would spend most of its time building; a job's stored request never changes after it
was accepted, so what was built from it stays right.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

# How many jobs' runners a process keeps (the least recently asked about go first).
RUNNERS_KEPT = 256

Runner = tuple[Any, Any, Any]


class RunnerCache:
    """Runners by job, least recently used dropped first.

    :param build: builds a job's runner from its stored document.
    :param kept: how many to keep.
    """

    def __init__(self, build: Callable[[dict[str, Any]], Runner], kept: int = RUNNERS_KEPT) -> None:
        self.build, self.kept = build, kept
        self._runners: OrderedDict[tuple[str, float], Runner] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, document: dict[str, Any]) -> Runner:
        """Return the job's runner, building it on first use.

        :param key: the job's key in the API's state.
        :param document: its stored document.
        """
        identity = (key, float(document["created_epoch_s"]))
        with self._lock:
            if identity in self._runners:
                self._runners.move_to_end(identity)
                return self._runners[identity]
        runner = self.build(document)
        self.keep(key, document, runner)
        return runner

    def keep(self, key: str, document: dict[str, Any], runner: Runner) -> None:
        """Keep a runner built elsewhere (the one a Create launched the job with).

        :param key: the job's key in the API's state.
        :param document: its stored document.
        :param runner: its operator, spec and job backend.
        """
        with self._lock:
            self._runners[(key, float(document["created_epoch_s"]))] = runner
            while len(self._runners) > self.kept:
                self._runners.popitem(last=False)
