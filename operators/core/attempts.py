"""Choose what a task instance does with its job: reuse a completed one, reattach to a live one, or start anew."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ml_lifecycle.core.naming import RunIdentity, job_name
from ml_lifecycle.core.status import JobRecord, JobStatus

MAX_ATTEMPTS = 1000


@dataclass(frozen=True)
class Attempt:
    """The decision for one task instance.

    :param job_name: the job's name.
    :param action: ``start`` a new job, ``attach`` to a running one, or ``reuse`` a completed one.
    :param record: the job's record for attach and reuse, else None.
    """

    job_name: str
    action: Literal["start", "attach", "reuse"]
    record: JobRecord | None = None


def choose_attempt(
    identity: RunIdentity,
    read_record: Callable[[str], JobRecord | None],
    is_running: Callable[[str, JobRecord | None], bool],
    abandon: Callable[[str], None],
) -> Attempt:
    """Decide, for a task instance (first try or retry), which job name to use and what to do with it.

    A completed attempt is reused as it is; a running one is reattached (a retry never starts a second job), also
    one whose hosts still boot and have written no record yet; a failed or stopped attempt moves on to the next
    name; an attempt left InProgress whose agent is gone is abandoned (its leftovers removed) and the next name is
    used.

    :param identity: the task instance.
    :param read_record: job name -> its record, or None when the name was never used (or nothing wrote one yet).
    :param is_running: (job name, its record or None) -> whether what runs that job is alive.
    :param abandon: removes what an abandoned attempt left, by job name.
    """
    for attempt in range(1, MAX_ATTEMPTS + 1):
        name = job_name(identity, attempt)
        record = read_record(name)
        if record is None:
            return Attempt(name, "attach" if is_running(name, None) else "start")
        if record.status == JobStatus.COMPLETED:
            return Attempt(name, "reuse", record)
        if record.status == JobStatus.IN_PROGRESS:
            if is_running(name, record):
                return Attempt(name, "attach", record)
            abandon(name)
    raise RuntimeError(f"{MAX_ATTEMPTS} attempts of {identity} exist; clear old job records under output_path")
