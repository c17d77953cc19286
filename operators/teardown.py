"""TeardownOperator: remove whatever this DAG run created, except what is meant to outlive it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ml_lifecycle.base import LifecycleOperator


class TeardownOperator(LifecycleOperator):
    """Remove the containers, networks and working folders of this DAG run; use it with ``.as_teardown()``.

    :param keep_kinds: resource kinds to leave running; default ``("endpoint",)`` keeps deployed endpoints.
    :param compute: also end this run's EC2 instances and security groups (found by their tags) when it holds
        ``ec2``; default ``("local",)``. (templated)
    :param aws_conn_id: the Airflow AWS connection for EC2.
    """

    template_fields: Sequence[str] = ("compute",)
    ui_color = "#eeeeee"

    def __init__(
        self,
        *,
        keep_kinds: Sequence[str] = ("endpoint",),
        compute: Sequence[str] | str = ("local",),
        aws_conn_id: str | None = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.keep_kinds = tuple(keep_kinds)
        self.compute = compute
        self.aws_conn_id = aws_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        """Remove this run's leftovers and list what was removed."""
        from ml_lifecycle import backends, settings
        from ml_lifecycle.compute.run_cleanup import remove_run

        ti = context["ti"]
        removed = remove_run(
            backends.docker_engine(), ti.dag_id, context["run_id"], settings.work_dir(), self.keep_kinds
        )
        if "ec2" in ([self.compute] if isinstance(self.compute, str) else list(self.compute)):
            removed += self._end_ec2(ti.dag_id, context["run_id"])
        self.log.info("Removed %d leftover(s) of this run: %s", len(removed), ", ".join(removed) or "none")
        return {"removed": removed}

    def _end_ec2(self, dag_id: str, run_id: str) -> list[str]:
        """End this run's EC2 instances and security groups (never kinds to keep) and name what was ended.

        :param dag_id: the DAG id.
        :param run_id: the DAG run id.
        """
        from ml_lifecycle.aws_clients import client_factory
        from ml_lifecycle.compute.ec2.fleet import Ec2Fleet
        from ml_lifecycle.compute.ec2.reaper import end_run

        fleet = Ec2Fleet(*(client_factory(name, self.aws_conn_id) for name in ("ec2", "ssm", "iam")))
        ended = end_run(fleet, dag_id, run_id, self.keep_kinds)
        return [name for job in ended for name in (*job.instances, *job.security_groups)]
