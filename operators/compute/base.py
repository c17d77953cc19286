"""The compute backend interfaces: what every place that runs containers does, and the results it reports.

A backend (the local Docker engine, EC2 instances, later Kubernetes or AWS Batch) gives the shared job lifecycle
(compute/lifecycle.py) one JobBackend per kind of job and one EndpointBackend. Shared code talks to these
interfaces only; it never asks which backend it runs on. The endpoint interface is in ``endpoint_interface``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ml_lifecycle.compute.endpoint_interface import EndpointBackend, LogSink
from ml_lifecycle.core.job_kinds import JobKind
from ml_lifecycle.core.lost_instances import LOST_GRACE_S
from ml_lifecycle.core.status import JobRecord, JobStatus


@dataclass(frozen=True)
class JobOutcome:
    """A job as its task reports it: name, status and outputs; ``to_xcom`` renders the task's XCom value.

    :param job_name: the job's name.
    :param status: its JobStatus (InProgress when the task returned without waiting).
    :param record_uri: where its record (status.json) is.
    :param outputs: XCom key -> value of what it produced, as its kind reports it (``model_uri``, ``output_uri``,
        ``image_digest``).
    :param metrics: metric name -> final value.
    """

    job_name: str
    status: str
    record_uri: str
    outputs: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)

    def to_xcom(self) -> dict[str, Any]:
        """Return the task's XCom value: a small JSON-safe dict (every key is also pushed as its own XCom)."""
        value: dict[str, Any] = {"job_name": self.job_name, "status": self.status, "record_uri": self.record_uri}
        if self.status == JobStatus.IN_PROGRESS:
            return value
        value.update(self.outputs)
        value["metrics"] = dict(self.metrics)
        return value


@dataclass(frozen=True)
class RecordWait:
    """What a deferred task waits for: the job's record to become final, its backend watching that the job lives.

    The Airflow glue turns it into a JobRecordTrigger (``ml_lifecycle.triggers.job_record``).

    :param record_uri: the job's record.
    :param job_name: the job's name.
    :param kind: the job's kind (``training``, ``transform``).
    :param compute: the backend that runs it (asked whether the job is alive).
    :param aws_conn_id: the Airflow AWS connection.
    :param poll_interval_s: seconds between reads.
    :param deadline_epoch_s: when the wait gives up.
    :param wake_on_secondary: secondary states that also end the wait (e.g. ``Interrupted``: a spot relaunch).
    :param wake_after_epoch_s: only a record written after this wakes on a secondary state.
    :param lost_grace_s: how long what runs the job may be gone, without a final record, before the job is lost.
    """

    record_uri: str
    job_name: str
    kind: str
    compute: str
    aws_conn_id: str | None
    poll_interval_s: float
    deadline_epoch_s: float
    wake_on_secondary: tuple[str, ...] = ()
    wake_after_epoch_s: float = 0.0
    lost_grace_s: float = LOST_GRACE_S


@dataclass(frozen=True)
class JobLinks:
    """Where a job's logs and machines are shown, for the task page's extra links ("" when there is nothing).

    :param logs_url: the job's logs.
    :param instances_url: the machines it ran on.
    """

    logs_url: str = ""
    instances_url: str = ""


@dataclass(frozen=True)
class ReapRequest:
    """What the orphan reaper is asked to do.

    :param find_record: job name -> its record (from the record roots), or None.
    :param run_state: (dag_id, run_id) -> the DAG run's state, or None when it cannot be read (or no longer exists).
    :param max_job_age_s: the age after which a job without a deadline is past it.
    :param match_labels: only resources that carry these labels too.
    :param dry_run: only report what would be removed.
    """

    find_record: Callable[[str], JobRecord | None]
    run_state: Callable[[str, str], str | None]
    max_job_age_s: float
    match_labels: Mapping[str, str]
    dry_run: bool


class JobBackend(ABC):
    """One kind of job (training, transform) on one backend: the verbs the shared job lifecycle drives.

    :param kind: what kind of job it runs (where its record is, what it reports, how it fails).
    :param compute: the backend's registered name (a deferred wait asks that backend whether the job lives).
    :param aws_conn_id: the Airflow AWS connection.
    :param poll_interval_s: seconds between reads of the record while waiting.
    :param lost_grace_s: how long what runs a job may be gone, without a final record, before the job is lost.
    """

    # Why a job counts as lost on this backend: what ran it ended before a final record was written.
    lost_reason: ClassVar[str] = "what ran it ended before it wrote a final record"

    def __init__(
        self,
        kind: JobKind,
        compute: str,
        aws_conn_id: str | None,
        poll_interval_s: float,
        lost_grace_s: float = LOST_GRACE_S,
    ) -> None:
        self.kind = kind
        self.compute = compute
        self.aws_conn_id = aws_conn_id
        self.poll_interval_s = poll_interval_s
        self.lost_grace_s = lost_grace_s

    def record_uri(self, spec: Any, job_name: str) -> str:
        """Return where the job's record (status.json) is.

        :param spec: the job's spec.
        :param job_name: the job's name.
        """
        return self.kind.record_uri(spec, job_name)

    @abstractmethod
    def find(self, spec: Any, job_name: str) -> JobRecord | None:
        """Return the record the job's agent wrote, or None when the name was never used.

        :param spec: the job's spec.
        :param job_name: the job's name.
        """

    @abstractmethod
    def is_alive(self, job_name: str, record: JobRecord | None) -> bool:
        """Say whether what runs the job (its agent, its containers, its instances) still exists.

        :param job_name: the job's name.
        :param record: its record, or None when none was written yet (its hosts may still boot).
        """

    def preflight(self, spec: Any) -> None:  # noqa: B027  (most backends refuse nothing up front)
        """Refuse what this backend cannot run, before any record is read or anything starts.

        :param spec: the job's spec.
        """

    @abstractmethod
    def launch(self, spec: Any, job_name: str, owner: Mapping[str, str], sink: LogSink) -> None:
        """Check the inputs, then start the job; everything it creates is labelled with owner.

        :param spec: the job's spec.
        :param job_name: the job's name.
        :param owner: the Airflow identity labels.
        :param sink: the task log.
        """

    @abstractmethod
    def wait(self, spec: Any, job_name: str, sink: LogSink) -> JobRecord | None:
        """Stream the job's log into sink until it ends or its deadline passes; return its final record.

        :param spec: the job's spec.
        :param job_name: the job's name.
        :param sink: the task log.
        """

    @abstractmethod
    def logs(self, spec: Any, job_name: str, tail: int | None = None) -> list[str]:
        """Return the job's log lines: the last ``tail`` ones, or all of them.

        :param spec: the job's spec.
        :param job_name: the job's name.
        :param tail: how many lines from the end, or None for all.
        """

    @abstractmethod
    def stop(self, spec: Any, job_name: str) -> None:
        """Stop the job as SageMaker does (SIGTERM, SIGKILL after the grace period; what it saved is kept).

        :param spec: the job's spec.
        :param job_name: the job's name.
        """

    @abstractmethod
    def clean_up(self, spec: Any, job_name: str) -> None:
        """Remove what the job created (containers, instances, networks, staging); its outputs stay. Idempotent.

        :param spec: the job's spec.
        :param job_name: the job's name.
        """

    @abstractmethod
    def deadline_epoch_s(self, spec: Any, job_name: str) -> float:
        """Return the UNIX time after which waiting for the job is given up.

        :param spec: the job's spec.
        :param job_name: the job's name.
        """

    def record_wait(self, spec: Any, job_name: str, deadline_epoch_s: float) -> RecordWait:
        """Return what a deferred task waits on: the job's record, and this backend's word on whether it lives.

        :param spec: the job's spec.
        :param job_name: the job's name.
        :param deadline_epoch_s: when the wait gives up.
        """
        return RecordWait(
            record_uri=self.record_uri(spec, job_name),
            job_name=job_name,
            kind=self.kind.name,
            compute=self.compute,
            aws_conn_id=self.aws_conn_id,
            poll_interval_s=self.poll_interval_s,
            deadline_epoch_s=deadline_epoch_s,
            lost_grace_s=self.lost_grace_s,
        )

    def release(self, job_name: str) -> None:  # noqa: B027  (only backends with child processes hold anything)
        """Let a launched job run on without this process waiting for it (the SageMaker API starts jobs and answers).

        :param job_name: the job's name.
        """

    def resume(self, spec: Any, job_name: str, event: Mapping[str, Any], sink: LogSink) -> bool:
        """After a deferral, show the job's log; return True when it runs on and the task must defer again.

        :param spec: the job's spec.
        :param job_name: the job's name.
        :param event: the trigger's event.
        :param sink: the task log.
        """
        for line in self.logs(spec, job_name):
            sink(line)
        return False


class Backend(ABC):
    """A place where containers run; the registry in ``ml_lifecycle.compute`` builds it from its name.

    :param aws_conn_id: the Airflow AWS connection (for ``s3://`` locations, and the AWS APIs of AWS backends).
    :param options: the operator's backend-specific parameters, rendered; each backend reads those it knows and
        builds its own frozen options from them.
    """

    name: ClassVar[str] = ""

    def __init__(self, aws_conn_id: str | None = "aws_default", options: Mapping[str, Any] | None = None) -> None:
        self.aws_conn_id = aws_conn_id
        self.options: Mapping[str, Any] = dict(options or {})

    def region(self) -> str:
        """Return the AWS region reported to containers here (script mode's SAGEMAKER_REGION)."""
        from ml_lifecycle import settings

        return settings.region()

    @abstractmethod
    def jobs(self, kind: JobKind) -> JobBackend:
        """Return the job backend that runs jobs of this kind here.

        :param kind: the job kind (``training``, ``transform``).
        """

    @abstractmethod
    def endpoints(self) -> EndpointBackend:
        """Return the endpoint backend."""

    @abstractmethod
    def reap_orphans(self, request: ReapRequest) -> list[dict[str, Any]]:
        """Remove what jobs nobody owns any more left running here; return what was (or would be) removed.

        :param request: what to reap and how.
        """

    @abstractmethod
    def remove_run(self, dag_id: str, run_id: str, keep_kinds: tuple[str, ...]) -> list[str]:
        """Remove what a DAG run left running here (never the kinds to keep); return the names removed.

        :param dag_id: the DAG id.
        :param run_id: the DAG run id.
        :param keep_kinds: resource kinds to leave (e.g. ``endpoint``).
        """

    @classmethod
    @abstractmethod
    def job_links(cls, job_name: str, kind: str, region: str) -> JobLinks:
        """Return where a job's logs and machines are shown (no connection needed: links are built after a task).

        :param job_name: the job's name.
        :param kind: the job kind.
        :param region: the AWS region.
        """
