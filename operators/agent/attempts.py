"""Choose the job name for a task instance: reuse a completed job, or start the next fresh attempt."""

from __future__ import annotations

from collections.abc import Callable

from ml_lifecycle.core.naming import RunIdentity, job_name
from ml_lifecycle.core.status import JobRecord, JobStatus

MAX_ATTEMPTS = 1000


def choose_attempt(
    identity: RunIdentity,
    read_record: Callable[[str], JobRecord | None],
    abandon: Callable[[str], None],
) -> tuple[str, JobRecord | None]:
    """Return (job name, completed record or None) for a task instance.

    A completed attempt is returned as it is (a retry after a later task failed reruns nothing); a failed or
    stopped attempt moves on to the next name; an attempt left InProgress by a worker that died is abandoned
    (its leftovers removed) and the next name is used.

    :param identity: the task instance.
    :param read_record: job name -> its record, or None when the name was never used.
    :param abandon: removes what an abandoned attempt left running, by job name.
    """
    for attempt in range(1, MAX_ATTEMPTS + 1):
        name = job_name(identity, attempt)
        record = read_record(name)
        if record is None:
            return name, None
        if record.status == JobStatus.COMPLETED:
            return name, record
        if record.status == JobStatus.IN_PROGRESS:
            abandon(name)
    raise RuntimeError(f"{MAX_ATTEMPTS} attempts of {identity} exist; clear old job records under output_path")
