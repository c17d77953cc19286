"""TrainOnEC2Operator: run a SageMaker training image with ``train`` and put model.tar.gz under output_path."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ml_lifecycle.base import LifecycleOperator
from ml_lifecycle.core import checks
from ml_lifecycle.core.image_ref import parse_image_ref
from ml_lifecycle.core.specs import DEFAULT_INSTANCE_TYPE, DEFAULT_MAX_RUNTIME_S, TrainingSpec, to_channels
from ml_lifecycle.core.uris import parse_uri


class TrainOnEC2Operator(LifecycleOperator):
    """Train with any SageMaker-compatible image; the hosts exist only while the job runs.

    :param image_uri: the training image (a local image, or one in a registry, pulled when missing). (templated)
    :param channels: channel name -> ``s3://``/``file://`` URI or ml_lifecycle.Channel. (templated)
    :param output_path: outputs go to ``<output_path>/<job>/output/model.tar.gz``. (templated)
    :param hyperparameters: name -> scalar; the container gets them as strings. (templated)
    :param compute: ``local`` (the Docker engine) or ``ec2``. (templated)
    :param instance_type: the instance type; reported to the container as current_instance_type. (templated)
    :param instance_count: the number of hosts, algo-1..N; default 1. (templated)
    :param max_runtime_s: seconds before the job is stopped (SIGTERM, SIGKILL 120 s later); default 1 day.
    :param metric_definitions: ``[{"Name", "Regex"}]`` run over the log; final values go to XCom.
    :param environment: extra container environment variables. (templated)
    :param entrypoint: ContainerEntrypoint override, or None.
    :param arguments: ContainerArguments (replace ``train``), or None.
    :param aws_conn_id: the Airflow AWS connection used for ``s3://`` locations; default ``aws_default``.
    """

    template_fields: Sequence[str] = (
        "image_uri",
        "channels",
        "output_path",
        "hyperparameters",
        "compute",
        "instance_type",
        "instance_count",
        "max_runtime_s",
        "environment",
    )
    template_fields_renderers = {"hyperparameters": "json", "channels": "json", "environment": "json"}
    ui_color = "#c9e4ff"

    def __init__(
        self,
        *,
        image_uri: str,
        channels: Mapping[str, Any],
        output_path: str,
        hyperparameters: Mapping[str, Any] | None = None,
        compute: str = "local",
        instance_type: str = DEFAULT_INSTANCE_TYPE,
        instance_count: int | str = 1,
        max_runtime_s: int | str = DEFAULT_MAX_RUNTIME_S,
        metric_definitions: list[dict[str, str]] | None = None,
        environment: Mapping[str, Any] | None = None,
        entrypoint: list[str] | None = None,
        arguments: list[str] | None = None,
        aws_conn_id: str | None = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.image_uri = image_uri
        self.channels = channels
        self.output_path = output_path
        self.hyperparameters = hyperparameters
        self.compute = compute
        self.instance_type = instance_type
        self.instance_count = instance_count
        self.max_runtime_s = max_runtime_s
        self.metric_definitions = metric_definitions
        self.environment = environment
        self.entrypoint = entrypoint
        self.arguments = arguments
        self.aws_conn_id = aws_conn_id
        self._runner: Any = None
        checks.check_now(
            {
                "image_uri": (image_uri, parse_image_ref),
                "channels": (channels, to_channels),
                "output_path": (output_path, lambda v: parse_uri(v, "output_path")),
                "hyperparameters": (hyperparameters, checks.hyperparameters_as_strings),
                "compute": (compute, checks.check_compute),
                "instance_count": (instance_count, checks.check_instance_count),
                "max_runtime_s": (max_runtime_s, checks.check_max_runtime_s),
                "metric_definitions": (metric_definitions, checks.check_metric_definitions),
                "environment": (environment, checks.check_environment),
            }
        )

    def execute(self, context: Any) -> dict[str, Any]:
        """Run the job (or return the result of this task instance's completed one) and return its outputs."""
        from ml_lifecycle import backends
        from ml_lifecycle.agent.attempts import choose_attempt
        from ml_lifecycle.agent.records import RECORD_NAME, read_record
        from ml_lifecycle.agent.training import job_output_uri
        from ml_lifecycle.compute.run_cleanup import remove_job
        from ml_lifecycle.runtime import identity_from_context, store_factory
        from ml_lifecycle.settings import work_dir

        spec = self._spec()
        backends.require_local(spec.compute)
        identity = identity_from_context(context)
        store_for = store_factory(self.aws_conn_id)
        self._runner = backends.training_runner(store_for)

        def record_of(name: str) -> Any:
            uri = job_output_uri(spec.output_path, name).join(RECORD_NAME)
            return read_record(store_for(uri), uri)

        name, done = choose_attempt(identity, record_of, lambda n: remove_job(self._runner.engine, n, work_dir()))
        if done is not None:
            self.log.info("Training job %s already completed in an earlier try; reusing its outputs", name)
        record = done or self._runner.run(spec, name, identity.labels(), self.log.info)
        return {
            "job_name": record.job_name,
            "status": record.status,
            "model_uri": record.artifacts.get("model", ""),
            "output_uri": record.artifacts.get("output", ""),
            "metrics": record.metrics,
            "image_digest": record.image_digest,
            "record_uri": str(job_output_uri(spec.output_path, name).join(RECORD_NAME)),
        }

    def on_kill(self) -> None:
        """Stop the running job (SIGTERM, then SIGKILL after 120 s) when the task is killed."""
        if self._runner is not None:
            self._runner.stop()

    def _spec(self) -> TrainingSpec:
        """Build the spec from the rendered arguments."""
        return TrainingSpec.build(
            image_uri=self.image_uri,
            channels=self.channels,
            output_path=self.output_path,
            hyperparameters=self.hyperparameters,
            instance_type=self.instance_type,
            instance_count=self.instance_count,
            max_runtime_s=self.max_runtime_s,
            metric_definitions=self.metric_definitions,
            environment=self.environment,
            compute=self.compute,
            entrypoint=self.entrypoint,
            arguments=self.arguments,
        )
