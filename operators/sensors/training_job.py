"""TrainingJobSensor: wait for a training job by name, e.g. one started with wait_for_completion=False."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from ml_lifecycle.core.templating import is_template
from ml_lifecycle.core.uris import parse_uri


class TrainingJobSensor(BaseSensorOperator):
    """Succeed when the job's record says Completed; fail when it says Failed or Stopped.

    :param job_name: the training job's name, e.g. TrainOnEC2's ``job_name``. (templated)
    :param output_path: the job's output_path (its record is ``<output_path>/<job>/status.json``). (templated)
    :param aws_conn_id: the Airflow AWS connection for ``s3://`` locations.
    :param deferrable: wait in the triggerer instead of a worker slot.
    """

    template_fields: Sequence[str] = ("job_name", "output_path")
    ui_color = "#c9e4ff"

    def __init__(
        self,
        *,
        job_name: str,
        output_path: str,
        aws_conn_id: str | None = "aws_default",
        deferrable: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job_name = job_name
        self.output_path = output_path
        self.aws_conn_id = aws_conn_id
        self.deferrable = deferrable
        if not is_template(output_path):
            parse_uri(output_path, "output_path")

    def _record_uri(self) -> str:
        """Return the URI of the job's record (where every training job keeps it)."""
        from ml_lifecycle.core.job_kinds import RECORD_NAME, job_output_uri

        return str(job_output_uri(self.output_path, self.job_name).join(RECORD_NAME))

    def _read(self) -> Any:
        """Read the job's record, or None when there is none yet."""
        from ml_lifecycle.compute.records import read_record
        from ml_lifecycle.stores import store_factory

        uri = parse_uri(self._record_uri())
        return read_record(store_factory(self.aws_conn_id)(uri), uri)

    def _result(self, record: Any) -> dict[str, Any]:
        """Return the XCom value of a completed job (the same whether the sensor poked or deferred).

        :param record: the job's Completed record.
        """
        return {
            "job_name": self.job_name,
            "status": record.status,
            "metrics": record.metrics,
            "model_uri": record.artifacts.get("model", ""),
        }

    def execute(self, context: Any) -> Any:
        """Poke as usual, or hand the wait to the triggerer when deferrable."""
        if not self.deferrable:
            return super().execute(context)
        import time

        from ml_lifecycle.triggers.job_record import JobRecordTrigger

        timeout_s = float(self.timeout) if self.timeout else 7 * 24 * 3600.0
        trigger = JobRecordTrigger(
            record_uri=self._record_uri(),
            job_name=self.job_name,
            aws_conn_id=self.aws_conn_id,
            poll_interval_s=float(self.poke_interval),
            deadline_epoch_s=time.time() + timeout_s,
        )
        self.defer(trigger=trigger, method_name="execute_complete", timeout=timedelta(seconds=timeout_s))
        return None

    def poke(self, context: Any) -> PokeReturnValue | bool:
        """Read the job's record once.

        :param context: the Airflow context.
        """
        from ml_lifecycle.core.status import JobStatus, is_failed
        from ml_lifecycle.errors import JobFailed

        record = self._read()
        if record is None or record.status == JobStatus.IN_PROGRESS:
            self.log.info("Training job %s: %s", self.job_name, record.secondary_status if record else "no record yet")
            return False
        if is_failed(record.status):
            raise JobFailed(self.job_name, record.secondary_status, record.failure_reason)
        return PokeReturnValue(is_done=True, xcom_value=self._result(record))

    def execute_complete(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        """Resume after deferral: succeed, or fail with the job's reason.

        :param context: the Airflow context.
        :param event: the trigger's event.
        """
        from ml_lifecycle.core.status import JobStatus
        from ml_lifecycle.errors import JobFailed

        if event.get("status") != JobStatus.COMPLETED:
            raise JobFailed(self.job_name, event.get("status", "unknown"), event.get("failure_reason", ""))
        return self._result(self._read())
