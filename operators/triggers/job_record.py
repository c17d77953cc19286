"""JobRecordTrigger: wait, without a worker slot, until a job's record reaches a terminal state."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from ml_lifecycle.core.lost_instances import LOST_GRACE_S, LOST_REASON, track_gone


class JobRecordTrigger(BaseTrigger):
    """Poll a job record (status.json) until the job completes, fails or stops, or the deadline passes.

    :param record_uri: the record's URI.
    :param job_name: the job's name (carried into the event).
    :param aws_conn_id: the Airflow AWS connection for ``s3://`` records.
    :param poll_interval_s: seconds between reads.
    :param deadline_epoch_s: the UNIX time after which the trigger gives up with status ``timeout``.
    :param wake_on_secondary: secondary states that also end the wait while the job is InProgress (e.g.
        ``Interrupted``, so the operator can relaunch a spot job); the event carries ``secondary_status``.
    :param wake_after_epoch_s: only a record written after this time wakes on a secondary state (a relaunch
        defers again before the new agent has written anything, so the old Interrupted must not wake it).
    :param watch_instances: also watch the job's EC2 instances (tagged with its name): when none has been pending
        or running for lost_grace_s and the record is still not final, end with status ``lost``.
    :param lost_grace_s: how long the instances may be gone before the job counts as lost.
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
        watch_instances: bool = False,
        lost_grace_s: float = LOST_GRACE_S,
    ) -> None:
        super().__init__()
        self.watch_instances = watch_instances
        self.lost_grace_s = lost_grace_s
        self._fleet: Any = None
        self.wake_on_secondary = tuple(wake_on_secondary)
        self.wake_after_epoch_s = wake_after_epoch_s
        self.record_uri = record_uri
        self.job_name = job_name
        self.aws_conn_id = aws_conn_id
        self.poll_interval_s = poll_interval_s
        self.deadline_epoch_s = deadline_epoch_s

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
                "watch_instances": self.watch_instances,
                "lost_grace_s": self.lost_grace_s,
            },
        )

    def _read_status(self) -> tuple[str, str, str]:
        """Read the record (blocking; run in a thread) and return (status, secondary status, failure reason).

        The secondary status is empty when the record was written before wake_after_epoch_s.
        """
        from ml_lifecycle.agent.records import read_record, written_after
        from ml_lifecycle.core.uris import parse_uri
        from ml_lifecycle.runtime import store_factory

        uri = parse_uri(self.record_uri)
        record = read_record(store_factory(self.aws_conn_id)(uri), uri)
        if record is None:
            return ("Missing", "", "")
        secondary = record.secondary_status if written_after(record, self.wake_after_epoch_s) else ""
        return (record.status, secondary, record.failure_reason)

    def _any_instance_alive(self) -> bool:
        """Say whether one of the job's instances is pending or running (blocking; run in a thread)."""
        from ml_lifecycle.compute.ec2.job_common import LIVE_STATES

        if self._fleet is None:
            from ml_lifecycle.aws_clients import client_factory
            from ml_lifecycle.compute.ec2.fleet import Ec2Fleet

            clients = (client_factory(name, self.aws_conn_id) for name in ("ec2", "ssm", "iam"))
            self._fleet = Ec2Fleet(*clients)
        return bool(self._fleet.instances(self.job_name, LIVE_STATES))

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Yield exactly one event: the terminal status, ``lost`` (watching instances), or ``timeout``."""
        from ml_lifecycle.core.status import is_terminal

        gone_since_s: float | None = None
        while True:
            status, secondary, reason = await asyncio.to_thread(self._read_status)
            if is_terminal(status) or (secondary and secondary in self.wake_on_secondary):
                event = {"status": status, "secondary_status": secondary, "job_name": self.job_name}
                yield TriggerEvent({**event, "failure_reason": reason})
                return
            if self.watch_instances:
                alive = await asyncio.to_thread(self._any_instance_alive)
                gone_since_s, lost = track_gone(alive, gone_since_s, time.monotonic(), self.lost_grace_s)
                if lost:
                    yield TriggerEvent({"status": "lost", "job_name": self.job_name, "failure_reason": LOST_REASON})
                    return
            if self.deadline_epoch_s is not None and time.time() > self.deadline_epoch_s:
                yield TriggerEvent({"status": "timeout", "job_name": self.job_name, "failure_reason": ""})
                return
            await asyncio.sleep(self.poll_interval_s)
