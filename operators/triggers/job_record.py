"""JobRecordTrigger: wait, without a worker slot, until a job's record reaches a terminal state."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from ml_lifecycle.core.lost_instances import LOST_GRACE_S, track_gone

log = logging.getLogger(__name__)


class JobRecordTrigger(BaseTrigger):
    """Poll a job record (status.json) until the job completes, fails or stops, or the deadline passes.

    Given the backend that runs the job, it also asks that backend whether the job is alive: a job whose runner,
    containers or instances are gone without a final record ends the wait with status ``lost``.

    :param record_uri: the record's URI.
    :param job_name: the job's name (carried into the event).
    :param aws_conn_id: the Airflow AWS connection for ``s3://`` records.
    :param poll_interval_s: seconds between reads.
    :param deadline_epoch_s: the UNIX time after which the trigger gives up with status ``timeout``.
    :param wake_on_secondary: secondary states that also end the wait while the job is InProgress (e.g.
        ``Interrupted``, so the operator can relaunch a spot job); the event carries ``secondary_status``.
    :param wake_after_epoch_s: only a record written after this time wakes on a secondary state (a relaunch
        defers again before the new agent has written anything, so the old Interrupted must not wake it).
    :param compute: the backend that runs the job (see ``ml_lifecycle.compute``); None reads the record only.
    :param lost_grace_s: how long the job may be gone before it counts as lost.
    :param kind: the job's kind (``training``, ``transform``), for its backend's runner of that kind.
    :param legacy: arguments of triggers serialized by older versions (``watch_instances``: the EC2 backend's watch).
    """

    def __init__(
        self,
        record_uri: str,
        job_name: str,
        aws_conn_id: str | None = "aws_default",
        poll_interval_s: float = 5.0,
        deadline_epoch_s: float | None = None,
        wake_on_secondary: tuple[str, ...] | list[str] = (),
        wake_after_epoch_s: float = 0.0,
        compute: str | None = None,
        lost_grace_s: float = LOST_GRACE_S,
        kind: str = "training",
        **legacy: Any,
    ) -> None:
        super().__init__()
        if legacy.pop("watch_instances", False) and compute is None:
            compute = "ec2"  # what a trigger serialized by a version before the backend registry watched
        if legacy:
            log.warning("JobRecordTrigger: ignoring arguments of an older version: %s", ", ".join(sorted(legacy)))
        self.compute = compute
        self.kind = kind
        self.lost_grace_s = lost_grace_s
        self._jobs: Any = None
        self.wake_on_secondary = tuple(wake_on_secondary)
        self.wake_after_epoch_s = wake_after_epoch_s
        self.record_uri = record_uri
        self.job_name = job_name
        self.aws_conn_id = aws_conn_id
        self.poll_interval_s = poll_interval_s
        self.deadline_epoch_s = deadline_epoch_s

    @classmethod
    def waiting_for(cls, wait: Any) -> JobRecordTrigger:
        """Return the trigger for what a backend says a deferred task waits for.

        :param wait: the backend's RecordWait.
        """
        return cls(
            record_uri=wait.record_uri,
            job_name=wait.job_name,
            aws_conn_id=wait.aws_conn_id,
            poll_interval_s=wait.poll_interval_s,
            deadline_epoch_s=wait.deadline_epoch_s,
            wake_on_secondary=wait.wake_on_secondary,
            wake_after_epoch_s=wait.wake_after_epoch_s,
            compute=wait.compute,
            lost_grace_s=wait.lost_grace_s,
            kind=wait.kind,
        )

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Return the classpath and the primitive arguments that rebuild this trigger."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "record_uri": self.record_uri,
                "job_name": self.job_name,
                "aws_conn_id": self.aws_conn_id,
                "poll_interval_s": self.poll_interval_s,
                "deadline_epoch_s": self.deadline_epoch_s,
                "wake_on_secondary": list(self.wake_on_secondary),
                "wake_after_epoch_s": self.wake_after_epoch_s,
                "compute": self.compute,
                "kind": self.kind,
                "lost_grace_s": self.lost_grace_s,
            },
        )

    def _read_record(self) -> Any:
        """Read the record (blocking; run in a thread), or None when there is none yet."""
        from ml_lifecycle.compute.records import read_record
        from ml_lifecycle.core.uris import parse_uri
        from ml_lifecycle.stores import store_factory

        uri = parse_uri(self.record_uri)
        return read_record(store_factory(self.aws_conn_id)(uri), uri)

    def _is_alive(self, record: Any) -> bool:
        """Ask the job's backend whether what runs the job still exists (blocking; run in a thread).

        :param record: the job's record, or None.
        """
        return bool(self._job_backend().is_alive(self.job_name, record))

    def _job_backend(self) -> Any:
        """Return the runner of the job's kind on its backend (built once)."""
        if self._jobs is None:
            from ml_lifecycle.compute import backend_for
            from ml_lifecycle.core.job_kinds import KINDS

            self._jobs = backend_for(str(self.compute), self.aws_conn_id).jobs(KINDS[self.kind])
        return self._jobs

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Yield exactly one event: the terminal status, ``lost`` (watching instances), or ``timeout``."""
        gone_since_s: float | None = None
        while True:
            event, _, gone_since_s = await self.check(gone_since_s)
            if event is not None:
                yield TriggerEvent(event)
                return
            await asyncio.sleep(self.poll_interval_s)

    async def check(self, gone_since_s: float | None) -> tuple[dict[str, Any] | None, Any, float | None]:
        """Read the record once; return (the event that ends the wait or None, the record read, since when nothing
        runs the job).

        :param gone_since_s: what the previous check returned (monotonic seconds), or None.
        """
        from ml_lifecycle.compute.records import written_after
        from ml_lifecycle.core.status import WaitOutcome, is_terminal

        record = await asyncio.to_thread(self._read_record)
        status = record.status if record is not None else WaitOutcome.MISSING
        secondary = ""
        if record is not None and written_after(record, self.wake_after_epoch_s):
            secondary = record.secondary_status
        if is_terminal(status) or (secondary and secondary in self.wake_on_secondary):
            event = {"status": status, "secondary_status": secondary, "job_name": self.job_name}
            return {**event, "failure_reason": record.failure_reason if record else ""}, record, gone_since_s
        if self.compute:
            alive = await asyncio.to_thread(self._is_alive, record)
            gone_since_s, lost = track_gone(alive, gone_since_s, time.monotonic(), self.lost_grace_s)
            if lost:
                event = {"status": WaitOutcome.LOST.value, "job_name": self.job_name}
                return {**event, "failure_reason": self._job_backend().lost_reason}, record, gone_since_s
        if self.deadline_epoch_s is not None and time.time() > self.deadline_epoch_s:
            return {"status": WaitOutcome.TIMEOUT.value, "job_name": self.job_name, "failure_reason": ""}, record, None
        return None, record, gone_since_s
