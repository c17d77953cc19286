"""TeardownOperator: remove whatever this DAG run created on the engine, except what is meant to outlive it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ml_lifecycle.base import LifecycleOperator


class TeardownOperator(LifecycleOperator):
    """Remove the containers, networks and working folders of this DAG run; use it with ``.as_teardown()``.

    :param keep_kinds: resource kinds to leave running; default ``("endpoint",)`` keeps deployed endpoints.
    """

    template_fields: Sequence[str] = ()
    ui_color = "#eeeeee"

    def __init__(self, *, keep_kinds: Sequence[str] = ("endpoint",), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.keep_kinds = tuple(keep_kinds)

    def execute(self, context: Any) -> dict[str, Any]:
        """Remove this run's leftovers and list what was removed."""
        from ml_lifecycle import backends, settings
        from ml_lifecycle.compute.run_cleanup import remove_run

        ti = context["ti"]
        removed = remove_run(
            backends.docker_engine(), ti.dag_id, context["run_id"], settings.work_dir(), self.keep_kinds
        )
        self.log.info("Removed %d leftover(s) of this run: %s", len(removed), ", ".join(removed) or "none")
        return {"removed": removed}
