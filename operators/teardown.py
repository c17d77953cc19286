"""TeardownOperator: remove whatever this DAG run created, except what is meant to outlive it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ml_lifecycle.base import LifecycleOperator


class TeardownOperator(LifecycleOperator):
    """Remove the containers, networks and working folders of this DAG run; use it with ``.as_teardown()``.

    :param keep_kinds: resource kinds to leave running; default ``("endpoint",)`` keeps deployed endpoints.
    :param compute: the backends to clean, e.g. ``"local"`` (containers, networks and work folders on the Docker
        engine) or ``["local", "ec2"]`` (also this run's EC2 instances and security groups, found by their tags);
        default ``("local",)``. (templated)
    :param aws_conn_id: the Airflow AWS connection for AWS backends.
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
        """Remove this run's leftovers on every backend named in compute, and list what was removed."""
        from ml_lifecycle.base import backend_of

        ti = context["ti"]
        names = [self.compute] if isinstance(self.compute, str) else list(self.compute)
        removed: list[str] = []
        for name in dict.fromkeys(names):
            removed += backend_of(name, self.aws_conn_id).remove_run(ti.dag_id, context["run_id"], self.keep_kinds)
        self.log.info("Removed %d leftover(s) of this run: %s", len(removed), ", ".join(removed) or "none")
        return {"removed": removed}
