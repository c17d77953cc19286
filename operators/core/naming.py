"""Deterministic job names from an Airflow identity: at most 63 characters of [a-zA-Z0-9-]."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

MAX_JOB_NAME_CHARS = 63
_HASH_CHARS = 8
_NOT_ALLOWED = re.compile(r"[^a-zA-Z0-9]+")


@dataclass(frozen=True)
class RunIdentity:
    """Who a job belongs to in Airflow.

    :param dag_id: the DAG id.
    :param task_id: the task id.
    :param run_id: the DAG run id.
    :param map_index: the mapped task index, -1 when not mapped.
    """

    dag_id: str
    task_id: str
    run_id: str
    map_index: int = -1

    def labels(self) -> dict[str, str]:
        """Return the ownership labels (and tags) every resource of this run carries."""
        return {
            "ml-lifecycle.dag-id": self.dag_id,
            "ml-lifecycle.task-id": self.task_id,
            "ml-lifecycle.run-id": self.run_id,
            "ml-lifecycle.map-index": str(self.map_index),
        }


def _slug(text: str) -> str:
    """Reduce text to lower-case words joined by single hyphens.

    :param text: any text.
    """
    return _NOT_ALLOWED.sub("-", text).strip("-").lower()


def job_name(identity: RunIdentity, attempt: int = 1) -> str:
    """Name a job after its task instance; a later attempt after a failure gets ``-a<N>``.

    The readable part is the DAG and task id; the hash of the whole identity keeps names from two runs
    (or two mapped instances) apart while staying the same for retries of one task instance.

    :param identity: the task instance the job belongs to.
    :param attempt: 1 for the first attempt; each fresh attempt after a failure counts up.
    """
    key = f"{identity.dag_id}\0{identity.task_id}\0{identity.run_id}\0{identity.map_index}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:_HASH_CHARS]
    suffix = f"-{digest}" + (f"-a{attempt}" if attempt > 1 else "")
    readable = _slug(f"{identity.dag_id}-{identity.task_id}") or "job"
    readable = readable[: MAX_JOB_NAME_CHARS - len(suffix)].strip("-") or "job"
    return f"{readable}{suffix}"


def container_name(job: str, host: str) -> str:
    """Name the container of one host of a job.

    :param job: the job name.
    :param host: the host name, e.g. ``algo-1``.
    """
    return f"mlc-{job}-{host}"
