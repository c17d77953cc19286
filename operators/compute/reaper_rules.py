"""When the reaper may remove what a job left on the engine: the rules, free of any engine or store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from ml_lifecycle.core.status import is_terminal

NEVER_REAPED_KINDS = frozenset({"endpoint"})


@dataclass(frozen=True)
class JobLeftovers:
    """What the reaper knows about one job's containers and networks.

    :param job: the job name (label ``ml-lifecycle.job``).
    :param kinds: the ``ml-lifecycle.kind`` labels of its resources.
    :param created_epoch_s: when its oldest container or network was created (seconds since the epoch).
    :param deadline_epoch_s: the earliest ``ml-lifecycle.deadline`` label, or None when none carries one.
    :param record_status: the status in its job record, or None when no record was found.
    :param agent_alive: whether its agent process lives (True/False), or None when that cannot be known here.
    """

    job: str
    kinds: frozenset[str]
    created_epoch_s: float
    deadline_epoch_s: float | None
    record_status: str | None
    agent_alive: bool | None


def reap_reason(job: JobLeftovers, now_epoch_s: float, max_job_age_s: float) -> str | None:
    """Say why a job's leftovers may be removed, or None to keep them.

    Endpoints are never reaped. A job is reaped past its deadline (its ``ml-lifecycle.deadline`` label, else its
    creation plus max_job_age_s), or when its record is terminal and its agent is known to be gone (an agent that
    still lives may be cleaning up; one on another host is not ours to judge).

    :param job: what is known about the job.
    :param now_epoch_s: the time now, in seconds since the epoch.
    :param max_job_age_s: the age after which a job without a deadline label is past its deadline.
    """
    if job.kinds & NEVER_REAPED_KINDS:
        return None
    deadline = job.deadline_epoch_s if job.deadline_epoch_s is not None else job.created_epoch_s + max_job_age_s
    if now_epoch_s > deadline:
        return f"past its deadline {datetime.fromtimestamp(deadline, UTC).isoformat(timespec='seconds')}"
    if job.record_status is not None and is_terminal(job.record_status) and job.agent_alive is False:
        return f"its record says {job.record_status} and its agent is gone"
    return None


ENDED_RUN_STATES = frozenset({"success", "failed"})


def instance_reap_reason(
    kinds: frozenset[str], deadline_epoch_s: float | None, run_state: str | None, now_epoch_s: float
) -> str | None:
    """Say why a job's EC2 instances and resources may be removed, or None to keep them.

    Endpoints are never reaped. A job is reaped past its deadline (its ``ml-lifecycle.deadline`` tag), or when the
    DAG run that launched it has ended (a task that still owned the job would have ended it first).

    :param kinds: the ``ml-lifecycle.kind`` tags of its resources.
    :param deadline_epoch_s: the earliest ``ml-lifecycle.deadline`` tag, or None when none carries one.
    :param run_state: the state of its DAG run (``running``, ``success``, ``failed``...), or None when unknown.
    :param now_epoch_s: the time now, in seconds since the epoch.
    """
    if kinds & NEVER_REAPED_KINDS:
        return None
    if deadline_epoch_s is not None and now_epoch_s > deadline_epoch_s:
        return f"past its deadline {datetime.fromtimestamp(deadline_epoch_s, UTC).isoformat(timespec='seconds')}"
    if run_state in ENDED_RUN_STATES:
        return f"its DAG run ended ({run_state})"
    return None
