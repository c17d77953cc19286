"""ReapOrphansOperator: remove containers, networks and EC2 instances of jobs that no task or agent owns any more."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ml_lifecycle.base import LifecycleOperator
from ml_lifecycle.compute import check_compute
from ml_lifecycle.core.endpoint_idleness import ENDPOINT_KIND, REAPED_ENDPOINTS
from ml_lifecycle.core.templating import is_template
from ml_lifecycle.core.uris import parse_uri

DEFAULT_MAX_JOB_AGE_S = 26 * 3600


class ReapOrphansOperator(LifecycleOperator):
    """Remove what orphaned jobs left on the engine, and idle endpoints; run it on a schedule, e.g. hourly.

    A job's containers, networks and working folder are removed when the DAG run that started it no longer exists
    (asked of the Airflow API), when it is past its deadline (the
    ``ml-lifecycle.deadline`` label, else its creation plus max_job_age_s), or when its record is terminal and its
    agent on this host is gone. With ``compute="ec2"``, instances and security groups carrying our tags are ended when
    they are past their ``ml-lifecycle.deadline`` tag or when the DAG run that launched them has ended. An endpoint is
    deleted only when it was deployed with ``idle_delete_after_h`` and has served no request for that long (as its
    proxy or load balancer counts them); each deletion is logged and noted under ``<artifact root>/reaper/endpoints/``,
    where the ML lifecycle page shows it.

    :param record_roots: where job records live: training output paths (``<root>/<job>/status.json``) and
        transform records (``<output_uri>/.ml-lifecycle``). (templated)
    :param compute: ``local`` (the Docker engine DOCKER_HOST points at) or ``ec2`` (the region of the AWS
        connection). (templated)
    :param max_job_age_s: the age after which a job is past its deadline; keep it above your longest
        max_runtime_s; default 26 hours.
    :param match_labels: only consider resources that carry these labels too (e.g. one DAG's), or None for all.
    :param dry_run: only report what would be removed.
    :param aws_conn_id: the Airflow AWS connection used for ``s3://`` record roots and EC2.
    """

    template_fields: Sequence[str] = ("record_roots", "compute")
    ui_color = "#eeeeee"

    def __init__(
        self,
        *,
        record_roots: Sequence[str] = (),
        compute: str = "local",
        max_job_age_s: float = DEFAULT_MAX_JOB_AGE_S,
        match_labels: Mapping[str, str] | None = None,
        dry_run: bool = False,
        aws_conn_id: str | None = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.record_roots = record_roots
        self.compute = compute
        self.max_job_age_s = max_job_age_s
        self.match_labels = dict(match_labels or {})
        self.dry_run = dry_run
        self.aws_conn_id = aws_conn_id
        if not is_template(compute):
            check_compute(compute)
        if not is_template(record_roots):
            for root in record_roots:
                parse_uri(root, "record_roots")

    def execute(self, context: Any) -> dict[str, Any]:
        """Reap orphaned jobs on the backend and list them with the reason."""
        from ml_lifecycle.base import backend_of
        from ml_lifecycle.compute.base import ReapRequest

        request = ReapRequest(
            find_record=self._record_finder(),
            run_state=self._run_state(context),
            max_job_age_s=float(self.max_job_age_s),
            match_labels=self.match_labels,
            dry_run=self.dry_run,
        )
        reaped = backend_of(self.compute, self.aws_conn_id).reap_orphans(request)
        verb = "Would reap" if self.dry_run else "Reaped"
        jobs = ", ".join(str(r["job"]) for r in reaped) or "none"
        self.log.info("%s %d orphaned job(s) or idle endpoint(s) on %s: %s", verb, len(reaped), self.compute, jobs)
        if not self.dry_run:
            self._note_deleted_endpoints([r for r in reaped if r.get("kind") == ENDPOINT_KIND])
        return {"reaped": reaped, "dry_run": self.dry_run}

    def _note_deleted_endpoints(self, deleted: list[dict[str, Any]]) -> None:
        """Note each endpoint deleted for idleness under the artifact root, where the page shows it.

        :param deleted: what reap_orphans said of each deleted endpoint.
        """
        from ml_lifecycle import settings
        from ml_lifecycle.stores import store_factory

        if not deleted:
            return
        folder = parse_uri(settings.default_artifact_root(), "ML_LIFECYCLE_ARTIFACT_ROOT").join(*REAPED_ENDPOINTS)
        store = store_factory(self.aws_conn_id)(folder)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        for endpoint in deleted:
            note = {**endpoint, "compute": self.compute, "deleted_at": stamp}
            store.write_bytes(folder.join(f"{endpoint['job']}-{stamp}.json"), json.dumps(note).encode())

    def _run_state(self, context: Any) -> Any:
        """Return (dag_id, run_id) -> the DAG run's state, asked of the API server, or None when it cannot tell.

        :param context: the Airflow context (its task instance asks the API server).
        """
        from ml_lifecycle.core.reaper_rules import RUN_GONE

        ask = getattr(context["ti"], "get_dagrun_state", None)

        def run_state(dag_id: str, run_id: str) -> str | None:
            if ask is None:
                return None
            try:
                return str(ask(dag_id=dag_id, run_id=run_id))
            except Exception as err:
                if _not_found(err):  # the API server says no such run: it was deleted
                    return RUN_GONE
                self.log.warning("Cannot read the state of DAG run %s/%s (%s)", dag_id, run_id, err)
                return None  # no API server, a network error: judge by the deadline

        return run_state

    def _record_finder(self) -> Any:
        """Return job name -> its record from the first record root that has one, or None."""
        from ml_lifecycle.compute.records import RECORD_NAME, read_record
        from ml_lifecycle.errors import MlLifecycleError
        from ml_lifecycle.stores import store_factory

        store_for = store_factory(self.aws_conn_id)
        roots = [parse_uri(root, "record_roots") for root in self.record_roots]

        def find(job: str) -> Any:
            for root in roots:
                uri = root.join(job, RECORD_NAME)
                try:
                    record = read_record(store_for(uri), uri)
                except (MlLifecycleError, OSError, ValueError) as err:
                    self.log.warning("Cannot read %s (%s); judging job %s by its deadline only", uri, err, job)
                    continue
                if record is not None:
                    return record
            return None

        return find


def _not_found(err: Exception) -> bool:
    """Say whether the Airflow API server answered that the DAG run does not exist (HTTP 404).

    The task SDK raises AirflowRuntimeError carrying the API server's answer (``error.detail["status_code"]``).

    :param err: what asking the run's state raised.
    """
    detail = getattr(getattr(err, "error", None), "detail", None)
    return isinstance(detail, dict) and detail.get("status_code") == 404
