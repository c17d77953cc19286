"""TuningTrialsTrigger: wait, without a worker slot, until one of a tuning job's running trials needs a decision."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from ml_lifecycle.core.lost_instances import LOST_GRACE_S
from ml_lifecycle.triggers.job_record import JobRecordTrigger


class TuningTrialsTrigger(BaseTrigger):
    """Watch the records of a tuning job's running trials; wake when one ends (completes, fails, stops, is lost),
    when the deadline passes, or, when the task stops hopeless trials, when a trial's curve has grown and
    ``curve_check_s`` has passed since the wait began.

    :param record_uris: trial name -> its record's URI.
    :param compute: the backend that runs the trials.
    :param aws_conn_id: the Airflow AWS connection.
    :param poll_interval_s: seconds between reads.
    :param deadline_epoch_s: the UNIX time after which the wait ends with status ``timeout``.
    :param objective_metric: the metric whose series early stopping reads.
    :param seen_points: trial name -> how many points of its curve the task has judged already.
    :param curve_check_s: seconds after which a grown curve wakes the task; None never wakes for curves.
    :param lost_grace_s: how long a trial's runner may be gone before the trial counts as lost.
    """

    def __init__(
        self,
        record_uris: Mapping[str, str],
        compute: str,
        aws_conn_id: str | None,
        poll_interval_s: float,
        deadline_epoch_s: float,
        objective_metric: str,
        seen_points: Mapping[str, int] | None = None,
        curve_check_s: float | None = None,
        lost_grace_s: float = LOST_GRACE_S,
    ) -> None:
        super().__init__()
        self.record_uris = dict(record_uris)
        self.compute = compute
        self.aws_conn_id = aws_conn_id
        self.poll_interval_s = poll_interval_s
        self.deadline_epoch_s = deadline_epoch_s
        self.objective_metric = objective_metric
        self.seen_points = dict(seen_points or {})
        self.curve_check_s = curve_check_s
        self.lost_grace_s = lost_grace_s

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Return the classpath and the primitive arguments that rebuild this trigger."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "record_uris": self.record_uris,
                "compute": self.compute,
                "aws_conn_id": self.aws_conn_id,
                "poll_interval_s": self.poll_interval_s,
                "deadline_epoch_s": self.deadline_epoch_s,
                "objective_metric": self.objective_metric,
                "seen_points": self.seen_points,
                "curve_check_s": self.curve_check_s,
                "lost_grace_s": self.lost_grace_s,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Yield exactly one event: the first trial's that ended, ``curve`` (a curve grew) or ``timeout``."""
        watches = {
            name: JobRecordTrigger(
                record_uri=uri,
                job_name=name,
                aws_conn_id=self.aws_conn_id,
                poll_interval_s=self.poll_interval_s,
                deadline_epoch_s=self.deadline_epoch_s,
                compute=self.compute,
                lost_grace_s=self.lost_grace_s,
                kind="training",
            )
            for name, uri in self.record_uris.items()
        }
        gone_since_s: dict[str, float | None] = dict.fromkeys(watches)
        began_s = time.monotonic()
        while True:
            grown = False
            for name, watch in watches.items():
                event, record, gone_since_s[name] = await watch.check(gone_since_s[name])
                if event is not None:
                    yield TriggerEvent(event)
                    return
                points = len((record.metric_series if record is not None else {}).get(self.objective_metric, []))
                grown = grown or points > self.seen_points.get(name, 0)
            if grown and self.curve_check_s is not None and time.monotonic() - began_s >= self.curve_check_s:
                yield TriggerEvent({"status": "curve", "job_name": ""})
                return
            await asyncio.sleep(self.poll_interval_s)
