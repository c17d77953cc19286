"""TeardownOperator: remove whatever this DAG run created, except what is meant to outlive it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ml_lifecycle.base import LifecycleOperator
from ml_lifecycle.compute import check_compute
from ml_lifecycle.core.templating import is_template


class TeardownOperator(LifecycleOperator):
    """Remove the containers, networks and working folders of this DAG run; use it with ``.as_teardown()``.

    :param keep_kinds: resource kinds to leave running; default ``("endpoint",)`` keeps deployed endpoints.
    :param compute: the backends to clean beyond the local Docker engine (always cleaned: containers, networks and
        work folders), e.g. ``"ec2"`` for this run's EC2 instances and security groups, found by their tags;
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
        for name in [compute] if isinstance(compute, str) else compute:
            if not is_template(name):
                check_compute(name)

    def execute(self, context: Any) -> dict[str, Any]:
        """Remove this run's leftovers on every backend named in compute, and list what was removed."""
        from ml_lifecycle.base import backend_of

        ti = context["ti"]
        removed: list[str] = []
        failed: list[BaseException] = []
        for name in self._backends():
            try:
                removed += backend_of(name, self.aws_conn_id).remove_run(ti.dag_id, context["run_id"], self.keep_kinds)
            except Exception as err:  # the other backends are cleaned all the same
                self.log.exception("Removing this run's leftovers on %s failed", name)
                failed.append(err)
        self.log.info("Removed %d leftover(s) of this run: %s", len(removed), ", ".join(removed) or "none")
        if failed:
            raise failed[0]
        return {"removed": removed}

    def _backends(self) -> list[str]:
        """Return the backends to clean: the default one (where images are built) and those named, each once."""
        from ml_lifecycle.compute import DEFAULT_BACKEND, check_compute

        names = [self.compute] if isinstance(self.compute, str) else list(self.compute)
        return [check_compute(name) for name in dict.fromkeys([DEFAULT_BACKEND, *names])]
