"""Script mode for the serving operators (BatchTransformOperator, DeployEndpointOperator): their entry_point,
source_dir, dependencies and container_log_level, and the model and environment the containers get from them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ml_lifecycle.core.script_mode import DEFAULT_LOG_LEVEL

if TYPE_CHECKING:  # loaded when a task runs, not at DAG parse time
    from ml_lifecycle.source_code.serving import ServingPlan

SCRIPT_MODE_TEMPLATE_FIELDS = ("entry_point", "source_dir", "dependencies")


class ScriptModeServing:
    """What a serving operator adds for script mode; the operator keeps entry_point, source_dir, dependencies,
    container_log_level, model_uri, environment and aws_conn_id as attributes."""

    entry_point: str | None
    source_dir: str | None
    dependencies: Sequence[str] | str | None
    container_log_level: int
    use_version_code: bool
    model_uri: str
    environment: Mapping[str, Any] | None
    aws_conn_id: str | None
    _serving_plan: ServingPlan | None = None

    def init_script_mode(
        self,
        entry_point: str | None,
        source_dir: str | None,
        dependencies: Sequence[str] | None,
        container_log_level: int = DEFAULT_LOG_LEVEL,
        use_version_code: bool = True,
    ) -> None:
        """Keep the script-mode parameters.

        :param entry_point: the inference program, relative to source_dir.
        :param source_dir: the folder put under code/.
        :param dependencies: more folders or files put under code/lib/.
        :param container_log_level: the toolkit's log level.
        :param use_version_code: serve a registry version with the code it keeps, when entry_point is not given.
        """
        self.use_version_code = use_version_code
        self.entry_point = entry_point
        self.source_dir = source_dir
        self.dependencies = dependencies  # templated: normalised when the task runs
        self.container_log_level = container_log_level

    def serving_plan(self, region: Callable[[], str]) -> ServingPlan:
        """Return the model and environment the containers get (computed once per task process).

        :param region: returns the AWS region reported to the containers (asked only in script mode).
        """
        if self._serving_plan is None:
            from ml_lifecycle.core import checks
            from ml_lifecycle.source_code.archive import SourceCode
            from ml_lifecycle.source_code.serving import plan_serving
            from ml_lifecycle.stores import store_factory

            dependencies = (self.dependencies,) if isinstance(self.dependencies, str) else self.dependencies
            code = (
                SourceCode(self.entry_point, self.source_dir or None, tuple(dependencies or ()))
                if self.entry_point
                else None
            )
            self._serving_plan = plan_serving(
                self.model_uri,
                checks.check_environment(self.environment),
                code,
                region,
                store_factory(self.aws_conn_id),
                self.container_log_level,
                self.use_version_code,
            )
        return self._serving_plan

    def stage_serving_code(self, plan: ServingPlan, sink: Callable[[str], None]) -> None:
        """Write the repacked model when the plan needs one and it is absent.

        :param plan: what serving_plan returned.
        :param sink: the task log.
        """
        if plan.code is None:
            return
        from ml_lifecycle import settings
        from ml_lifecycle.source_code.serving import ensure_repacked
        from ml_lifecycle.stores import store_factory

        ensure_repacked(plan, store_factory(self.aws_conn_id), sink, str(settings.work_dir() / "repack"))
