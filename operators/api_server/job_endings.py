"""How the API ends jobs that could not end themselves: their final records, and stopping and removing them."""

from __future__ import annotations

import dataclasses
from typing import Any

from ml_lifecycle.core.status import JobRecord


def ended_record(name: str, record: JobRecord | None, status: str, secondary: str, reason: str) -> JobRecord:
    """Return the final record of a job that ended without writing one itself.

    :param name: the job's name.
    :param record: its last record, or None.
    :param status: its final status.
    :param secondary: its final secondary status.
    :param reason: why it ended.
    """
    from ml_lifecycle.core.clock import utc_now_iso

    now = utc_now_iso()
    base = record if record is not None else JobRecord(job_name=name, kind="", created_at=now, updated_at=now)
    return dataclasses.replace(
        base,
        status=status,
        secondary_status=secondary,
        failure_reason=reason,
        ended_at=now,
        updated_at=now,
        transitions=[*base.transitions, [secondary, now]],
    )


def stop_then_clean(jobs: Any, spec: Any, name: str) -> None:
    """Stop a job, then remove what it created, even when the stop fails.

    :param jobs: the job backend.
    :param spec: the job's spec.
    :param name: the job's name.
    """
    try:
        jobs.stop(spec, name)
    finally:
        jobs.clean_up(spec, name)
