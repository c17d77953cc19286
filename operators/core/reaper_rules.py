"""When the reaper may remove what a job left on the engine: the rules, free of any engine or store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from ml_lifecycle.core.status import is_terminal

NEVER_REAPED_KINDS = frozenset({"endpoint"})
# Jobs that carry no deadline label because nothing bounds their runtime: a local batch transform. SageMaker's
# CreateTransformJob has no stopping condition, only a per-request timeout and retry count, and how many requests a
# transform sends is known only once its input is read; the operator's max_runtime_s bounds compute="ec2" transforms
# only (their instances end themselves). Their record names the process running them, and that is what the reaper
# judges them by: kept while it lives, reaped once it is gone (nothing resumes a transform: a retry starts afresh
# with a new record); their age counts only when that process cannot be seen from here.
RUNNER_BOUND_KINDS = frozenset({"transform"})


@dataclass(frozen=True)
class JobLeftovers:
    """What the reaper knows about one job's containers and networks.

    :param job: the job name (label ``ml-lifecycle.job``).
    :param kinds: the ``ml-lifecycle.kind`` labels of its resources.
    :param created_epoch_s: when its oldest container or network was created (seconds since the epoch).
    :param deadline_epoch_s: the earliest ``ml-lifecycle.deadline`` label, or None when none carries one.
    :param record_status: the status in its job record, or None when no record was found.
    :param agent_alive: whether its agent process lives (True/False), or None when that cannot be known here.
    :param run_state: the state of the DAG run that started it (RUN_GONE once the run no longer exists), or None.
    """

    job: str
    kinds: frozenset[str]
    created_epoch_s: float
    deadline_epoch_s: float | None
    record_status: str | None
    agent_alive: bool | None
    run_state: str | None = None


def reap_reason(job: JobLeftovers, now_epoch_s: float, max_job_age_s: float) -> str | None:
    """Say why a job's leftovers may be removed, or None to keep them.

    Endpoints are never reaped. A job is reaped once the DAG run that started it no longer exists (deleted, as
    ``airflow dags test`` does before a rerun: nothing will ever wait for it), past its deadline (its
    ``ml-lifecycle.deadline`` label, else its
    creation plus max_job_age_s), or when its record is terminal and its agent is known to be gone (an agent that
    still lives may be cleaning up; one on another host is not ours to judge). A transform without a deadline label
    (see RUNNER_BOUND_KINDS) is judged by its runner when this host can see it: kept while the runner lives, however
    old, and reaped once it is gone, whatever its record says.

    :param job: what is known about the job.
    :param now_epoch_s: the time now, in seconds since the epoch.
    :param max_job_age_s: the age after which a job without a deadline label is past its deadline.
    """
    if job.kinds & NEVER_REAPED_KINDS:
        return None
    if job.run_state == RUN_GONE:
        return GONE_REASON
    if job.deadline_epoch_s is not None and now_epoch_s > job.deadline_epoch_s:
        return _past(job.deadline_epoch_s)
    if job.deadline_epoch_s is None and job.kinds == RUNNER_BOUND_KINDS and job.agent_alive is not None:
        if job.agent_alive:
            return None
        return f"its record says {job.record_status} and its runner is gone (a transform is never resumed)"
    if job.deadline_epoch_s is None and now_epoch_s > job.created_epoch_s + max_job_age_s:
        return _past(job.created_epoch_s + max_job_age_s)
    if job.record_status is not None and is_terminal(job.record_status) and job.agent_alive is False:
        return f"its record says {job.record_status} and its agent is gone"
    return None


def _past(deadline_epoch_s: float) -> str:
    """Say that a job is past its deadline, in UTC.

    :param deadline_epoch_s: the deadline, in seconds since the epoch.
    """
    return f"past its deadline {datetime.fromtimestamp(deadline_epoch_s, UTC).isoformat(timespec='seconds')}"


# What the reaper's run lookup answers for a DAG run that no longer exists (Airflow's API answers 404).
RUN_GONE = "gone"
GONE_REASON = "its DAG run no longer exists (it was deleted)"
ENDED_RUN_STATES = frozenset({"success", "failed", RUN_GONE})


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
    if run_state == RUN_GONE:
        return GONE_REASON
    if run_state in ENDED_RUN_STATES:
        return f"its DAG run ended ({run_state})"
    return None
