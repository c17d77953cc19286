"""The base of our operators: small JSON-safe results, the task's identity, its backend, and the job recipe."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from ml_lifecycle.compute.base import Backend, JobBackend, JobOutcome, RecordWait
    from ml_lifecycle.core.naming import RunIdentity


class LifecycleOperator(BaseOperator):
    """Pushes every key of the returned dict as its own XCom, so ``task.output["model_uri"]`` works downstream.

    :param multiple_outputs: push each key as an XCom as well as the whole dict; default True.
    """

    def __init__(self, *, multiple_outputs: bool = True, **kwargs: Any) -> None:
        super().__init__(multiple_outputs=multiple_outputs, **kwargs)


def identity_from_context(context: Any) -> RunIdentity:
    """Read who is running (DAG, task, run, map index) from an Airflow task context.

    :param context: the Airflow context passed to execute().
    """
    from ml_lifecycle.core.naming import RunIdentity

    ti = context["ti"]
    map_index = getattr(ti, "map_index", None)
    return RunIdentity(
        dag_id=ti.dag_id,
        task_id=ti.task_id,
        run_id=context["run_id"],
        map_index=int(map_index) if map_index is not None else -1,
    )


def backend_of(compute: str, aws_conn_id: str | None, options: Mapping[str, Any] | None = None) -> Backend:
    """Return the backend a task runs on, from its rendered ``compute`` parameter.

    :param compute: the compute name.
    :param aws_conn_id: the Airflow AWS connection.
    :param options: the operator's backend-specific parameters.
    """
    from ml_lifecycle.compute import backend_for

    return backend_for(compute, aws_conn_id, options)


def is_last_try(context: Any) -> bool:
    """Say whether Airflow will not retry this task instance if it fails now (its try number is past its retries).

    :param context: the Airflow context passed to execute(); a context without try numbers counts as not last.
    """
    ti = context["ti"]
    try_number, max_tries = getattr(ti, "try_number", None), getattr(ti, "max_tries", None)
    if try_number is None or max_tries is None:
        return False
    return int(try_number) > int(max_tries)


@contextmanager
def fail_fast_unless_retryable() -> Iterator[None]:
    """Turn a compute error that a retry cannot fix (a bad AMI, a quota) into a failure Airflow does not retry."""
    from ml_lifecycle.errors import ComputeError

    try:
        yield
    except ComputeError as err:
        if err.retryable:
            raise
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(str(err)) from err


class JobOperator(LifecycleOperator):
    """Runs one job (training, transform) through the shared job lifecycle on the backend ``compute`` names.

    A subclass says what its job is (``job_kind``, ``build_spec``) and which of its parameters its backend reads
    (``backend_options``); starting, reattaching, waiting or deferring, on_kill and cleanup are the same for all.

    :param compute: the backend, e.g. ``local`` (the Docker engine) or ``ec2``. (templated)
    :param deferrable: wait in the triggerer instead of a worker slot; the job's log is shown on resume.
    :param poll_interval_s: seconds between reads of the job's record (and, on EC2, its instances and logs).
    :param aws_conn_id: the Airflow AWS connection used for ``s3://`` locations and the AWS APIs; it also asks ECR
        for the token that pulls an ECR image the engine lacks (the image's own account and region: AWS's framework
        images too).
    :param registry_conn_id: an Airflow connection (docker or generic: host, login, password) for pulling an image
        from another registry that needs a login; None pulls such images anonymously. (compute="local"; EC2
        instances pull from ECR with their role.)
    """

    job_kind: ClassVar[str] = ""
    wait_for_completion: bool = True

    def __init__(
        self,
        *,
        compute: str = "local",
        deferrable: bool = False,
        poll_interval_s: float = 5.0,
        aws_conn_id: str | None = "aws_default",
        registry_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.registry_conn_id = registry_conn_id
        self.compute = compute
        self.deferrable = deferrable
        self.poll_interval_s = poll_interval_s
        self.aws_conn_id = aws_conn_id
        self.current_job_name: str | None = None  # the job this task runs, once chosen (on_kill and links read it)
        self.lineage: tuple[list[str], list[str]] | None = None  # what the completed job read and wrote

    def build_spec(self) -> Any:
        """Return the job's spec from the rendered parameters."""
        raise NotImplementedError

    def stage_inputs(self, spec: Any) -> None:
        """Put what the spec names but only this machine has where the job reads it (a script's code); run only
        when the task starts a job, not on resume or kill.

        :param spec: the job's spec.
        """

    def resume_state(self) -> dict[str, Any]:
        """Return what the spec was built from beyond the rendered parameters (kept in the deferral, so a resumed
        task rebuilds the same spec without reading stores or folders before the job's cleanup is guarded)."""
        return {}

    def restore_state(self, state: dict[str, Any]) -> None:
        """Take back what resume_state kept.

        :param state: what resume_state returned when the task deferred.
        """

    def backend_options(self) -> dict[str, Any]:
        """Return the parameters a backend may read beyond the spec (its own frozen options are built from them)."""
        return {"poll_interval_s": self.poll_interval_s, "registry_conn_id": self.registry_conn_id}

    def job_backend(self) -> JobBackend:
        """Return the runner of this operator's kind of job on its backend."""
        from ml_lifecycle.core.job_kinds import KINDS

        return backend_of(self.compute, self.aws_conn_id, self.backend_options()).jobs(KINDS[self.job_kind])

    def execute(self, context: Any) -> dict[str, Any]:
        """Reuse, reattach to or start this task instance's job, then wait, defer or return; return its outputs."""
        from ml_lifecycle.compute.lifecycle import run_job

        spec = self.build_spec()
        with fail_fast_unless_retryable():
            outcome = run_job(
                self.job_backend(),
                spec,
                identity_from_context(context),
                self.log.info,
                note_job=self.note_job,
                wait=self.wait_for_completion,
                defer=self.defer_wait if self.deferrable else None,
                stage=lambda: self.stage_inputs(spec),
            )
        return self.completed(spec, outcome)

    def execute_complete(
        self, context: Any, event: dict[str, Any], job_name: str, state: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Resume after deferral: show the job's log, then return its outputs or fail (its resources removed).

        :param context: the Airflow context.
        :param event: the trigger's event.
        :param job_name: the job's name.
        :param state: what resume_state kept when the task deferred.
        """
        from ml_lifecycle.compute.lifecycle import resume_job

        self.restore_state(state or {})
        self.note_job(job_name)
        spec = self.build_spec()
        with fail_fast_unless_retryable():
            outcome = resume_job(self.job_backend(), spec, job_name, event, self.log.info, self.defer_wait)
        return self.completed(spec, outcome)

    def completed(self, spec: Any, outcome: JobOutcome) -> dict[str, Any]:
        """Keep what a completed job read and wrote (for OpenLineage) and return its XCom value.

        :param spec: the job's spec.
        :param outcome: its outcome.
        """
        from ml_lifecycle.core.job_kinds import KINDS
        from ml_lifecycle.core.status import JobStatus

        if outcome.status == JobStatus.COMPLETED:
            self.lineage = KINDS[self.job_kind].lineage(spec, dict(outcome.outputs))
        return outcome.to_xcom()

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Return the job's inputs and outputs as OpenLineage datasets, as the Amazon provider's SageMaker operators
        do (the OpenLineage provider calls this when it is installed).

        :param task_instance: the task instance.
        """
        from ml_lifecycle.lineage.datasets import operator_lineage

        inputs, outputs = self.lineage or ([], [])
        return operator_lineage(inputs, outputs)

    def on_kill(self) -> None:
        """Stop the running job (what it saved is kept) and remove what it created, when the task is killed."""
        from ml_lifecycle.compute.lifecycle import stop_job

        if self.current_job_name is None:
            return
        self.log.info("Stopping %s and removing what it created", self.current_job_name)
        stop_job(self.job_backend(), self.build_spec(), self.current_job_name)

    def note_job(self, job_name: str) -> None:
        """Remember the job this task runs (on_kill stops it; the extra links show it).

        :param job_name: the job's name.
        """
        self.current_job_name = job_name

    def defer_wait(self, wait: RecordWait, timeout_s: float) -> NoReturn:
        """Hand the wait to the triggerer; Airflow's own timeout comes after the trigger's deadline.

        :param wait: what to wait for.
        :param timeout_s: Airflow's timeout of the deferral, in seconds.
        """
        from ml_lifecycle.triggers.job_record import JobRecordTrigger

        self.defer(
            trigger=JobRecordTrigger.waiting_for(wait),
            method_name="execute_complete",
            kwargs={"job_name": wait.job_name, "state": self.resume_state()},
            timeout=timedelta(seconds=timeout_s),
        )
