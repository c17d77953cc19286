"""Job states with SageMaker's names, the rules on them, and the job record the agent writes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class JobStatus(StrEnum):
    """Primary job states, as SageMaker names them."""

    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"


class SecondaryStatus(StrEnum):
    """Secondary states of a training job, as SageMaker names them."""

    STARTING = "Starting"
    DOWNLOADING = "Downloading"
    TRAINING = "Training"
    UPLOADING = "Uploading"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPED = "Stopped"
    MAX_RUNTIME_EXCEEDED = "MaxRuntimeExceeded"
    INTERRUPTED = "Interrupted"  # a spot instance was reclaimed; the job stays InProgress and is relaunched


class WaitOutcome(StrEnum):
    """How a deferred wait for a job ends when the job's record is not final: the trigger's event ``status``."""

    TIMEOUT = "timeout"  # the deadline passed
    LOST = "lost"  # nothing has run the job for the lost grace period
    MISSING = "Missing"  # no record yet (never an event; what the trigger reads meanwhile)


class EndpointStatus(StrEnum):
    """Endpoint states, as SageMaker names them."""

    CREATING = "Creating"
    UPDATING = "Updating"
    IN_SERVICE = "InService"
    FAILED = "Failed"
    DELETING = "Deleting"


TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.STOPPED})
# Stopped counts as a failure for the task: the Amazon provider once reported stopped jobs as success.
FAILED = frozenset({JobStatus.FAILED, JobStatus.STOPPED})

OOM_EXIT_CODE = 137


def is_terminal(status: str) -> bool:
    """Say whether a job in this state will change no more.

    :param status: a JobStatus value.
    """
    return status in TERMINAL


def is_failed(status: str) -> bool:
    """Say whether a job in this state failed the task.

    :param status: a JobStatus value.
    """
    return status in FAILED


def status_for_exit(exit_code: int, *, max_runtime_exceeded: bool, stopped: bool) -> tuple[JobStatus, SecondaryStatus]:
    """Map how the containers ended to the job's (status, secondary status).

    :param exit_code: the worst exit code over all hosts (0 when all succeeded).
    :param max_runtime_exceeded: whether the job was stopped for running past max_runtime_s.
    :param stopped: whether a user or Airflow stopped the job.
    """
    if max_runtime_exceeded:
        return JobStatus.STOPPED, SecondaryStatus.MAX_RUNTIME_EXCEEDED
    if stopped:
        return JobStatus.STOPPED, SecondaryStatus.STOPPED
    if exit_code == 0:
        return JobStatus.COMPLETED, SecondaryStatus.COMPLETED
    return JobStatus.FAILED, SecondaryStatus.FAILED


def exit_reason(exit_code: int, *, oom_killed: bool = False) -> str:
    """Explain a non-zero container exit code when the container wrote no failure file.

    :param exit_code: the container's exit code.
    :param oom_killed: whether the engine says the out-of-memory killer ended the container.
    """
    if oom_killed:
        return (
            f"The container was killed by the out-of-memory killer (exit code {exit_code}, out of memory): "
            "use a larger instance_type or reduce the memory the job needs"
        )
    if exit_code == OOM_EXIT_CODE:
        return (
            "The container was killed with SIGKILL (exit code 137) but not by the out-of-memory killer: "
            "something outside the job killed it (docker kill, a reaper, the host); retry the task"
        )
    return f"The container exited with code {exit_code} and wrote no /opt/ml/output/failure"


@dataclass
class JobRecord:
    """The record of a job (status.json beside its outputs); the agent is its only writer.

    :param job_name: the job's name.
    :param kind: ``training``, ``transform`` or ``endpoint``.
    :param status: a JobStatus value.
    :param secondary_status: a SecondaryStatus value.
    :param created_at: ISO-8601 UTC time the job was created.
    :param updated_at: ISO-8601 UTC time of the last change.
    :param ended_at: ISO-8601 UTC time the job ended, or None.
    :param hosts: the host names.
    :param image_uri: the image as given.
    :param image_digest: the image's content digest (``sha256:...``) or its id when it has no digest.
    :param failure_reason: the failure reason, empty on success.
    :param exit_codes: host -> exit code.
    :param metrics: metric name -> final value.
    :param metric_series: metric name -> list of [seconds since start, value].
    :param artifacts: artifact name -> URI (model, output).
    :param inputs: channel name -> {uri, objects, bytes, etags digest}.
    :param hyperparameters: the hyperparameters as passed to the container.
    :param owner: the ownership labels (DAG, task, run).
    :param transitions: list of [secondary status, ISO time].
    :param agent: where the job's agent runs: ``{"pid": ..., "host": ...}``.
    :param exit_message: what the containers left in /opt/ml/output/message (processing's ExitMessage), or "".
    """

    job_name: str
    kind: str
    status: str = JobStatus.IN_PROGRESS
    secondary_status: str = SecondaryStatus.STARTING
    created_at: str = ""
    updated_at: str = ""
    ended_at: str | None = None
    hosts: list[str] = field(default_factory=list)
    image_uri: str = ""
    image_digest: str = ""
    failure_reason: str = ""
    exit_codes: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    metric_series: dict[str, list[list[float]]] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    hyperparameters: dict[str, str] = field(default_factory=dict)
    owner: dict[str, str] = field(default_factory=dict)
    transitions: list[list[str]] = field(default_factory=list)
    agent: dict[str, Any] = field(default_factory=dict)
    exit_message: str = ""

    def created_epoch_s(self) -> float | None:
        """Return when the job was created, in UNIX seconds, or None when the record does not say."""
        if not self.created_at:
            return None
        return datetime.fromisoformat(self.created_at.replace("Z", "+00:00")).timestamp()

    def to_dict(self) -> dict[str, Any]:
        """Return the record as JSON-safe data."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobRecord:
        """Read a record, ignoring keys a newer writer may have added.

        :param data: the parsed status.json.
        """
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)
