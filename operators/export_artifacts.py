"""ExportArtifactsOperator: publish a trained model as the next verified version, with its lineage."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ml_lifecycle.base import LifecycleOperator
from ml_lifecycle.core.templating import is_template
from ml_lifecycle.core.uris import parse_uri
from ml_lifecycle.errors import SpecError
from ml_lifecycle.links import ModelVersionLink

_MODEL_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{0,127}$")


class ExportArtifactsOperator(LifecycleOperator):
    """Copy model.tar.gz to ``<registry_uri>/<model_name>/<version>/`` with a manifest, and verify the copy.

    Lineage comes from the training job's record beside the model (image digest, inputs with their ETags,
    hyperparameters, metrics) and from the DAG run. Outlet Assets get the version in their event's extra. A model
    trained in script mode keeps its code: the job's sourcedir.tar.gz is copied into the version and named in the
    manifest's ``code`` (with its entry point), so BatchTransformOperator and DeployEndpointOperator serve the
    version from its URI alone (the result's ``code_uri``; None for other models).

    :param model_uri: the trained model, e.g. TrainOnEC2's ``model_uri``. (templated)
    :param model_name: the model's name in the registry. (templated)
    :param registry_uri: the model registry root (``s3://`` or ``file://``). (templated)
    :param aws_conn_id: the Airflow AWS connection used for ``s3://`` locations.
    :param quality_gate: publish only a model that passes, e.g. ``{"metric": "validation_rmse", "max": 0.5}``;
        keys ``max``/``min`` (thresholds), ``beat_in_service`` (strictly better than the newest published
        version), ``goal`` (``minimize``/``maximize``), ``require`` (``all``/``any``), ``on_fail`` (``fail``, the
        default, fails without retries; ``skip`` skips this task and what depends on it). None publishes any model.
        (templated)
    :param metrics: metric values that add to (and override) those of the training record. (templated)
    """

    template_fields: Sequence[str] = ("model_uri", "model_name", "registry_uri", "quality_gate", "metrics")
    template_fields_renderers = {"quality_gate": "json", "metrics": "json"}
    ui_color = "#fff3b0"
    operator_extra_links = (ModelVersionLink(),)

    def __init__(
        self,
        *,
        model_uri: str,
        model_name: str,
        registry_uri: str,
        aws_conn_id: str | None = "aws_default",
        quality_gate: dict[str, Any] | None = None,
        metrics: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model_uri = model_uri
        self.model_name = model_name
        self.registry_uri = registry_uri
        self.aws_conn_id = aws_conn_id
        self.quality_gate = quality_gate
        self.metrics = metrics
        if quality_gate is not None and not is_template(quality_gate):
            from ml_lifecycle.stores.quality_gate import QualityGate  # only DAGs with a literal gate need it to parse

            QualityGate.parse(quality_gate)
        if not is_template(model_name) and not _MODEL_NAME.match(model_name):
            raise SpecError("model_name", f"{model_name!r} is not a valid name", "Use letters, digits, '.', '_', '-'")
        for name, value in (("model_uri", model_uri), ("registry_uri", registry_uri)):
            if not is_template(value):
                parse_uri(value, name)

    def execute(self, context: Any) -> dict[str, Any]:
        """Publish the model and return its version, URI and manifest location."""
        from ml_lifecycle import settings
        from ml_lifecycle.base import identity_from_context
        from ml_lifecycle.compute.records import RECORD_NAME, read_record
        from ml_lifecycle.core.script_mode import script_mode_code
        from ml_lifecycle.stores import store_factory
        from ml_lifecycle.stores.model_registry import MANIFEST, publish

        store_for = store_factory(self.aws_conn_id)
        identity = identity_from_context(context)
        lineage: dict[str, Any] = {
            "dag_id": identity.dag_id,
            "dag_run": identity.run_id,
            "task_id": identity.task_id,
        }
        code: tuple[str, str] | None = None
        source = parse_uri(self.model_uri, "model_uri")
        if source.path.endswith("/output/model.tar.gz"):
            job_root = parse_uri(self.model_uri.rsplit("/output/", 1)[0])
            record = read_record(store_for(job_root), job_root.join(RECORD_NAME))
            if record is not None:
                lineage.update(
                    training_job=record.job_name,
                    image_uri=record.image_uri,
                    image_digest=record.image_digest,
                    inputs=record.inputs,
                    hyperparameters=record.hyperparameters,
                    metrics=record.metrics,
                )
                code = script_mode_code(record.hyperparameters, record.inputs)
        if self.metrics:
            lineage["metrics"] = {**lineage.get("metrics", {}), **self.metrics}
        if self.quality_gate is not None:
            lineage["quality_gate"] = self._check_gate(store_for, lineage)
        manifest = publish(
            store_for,
            self.model_uri,
            self.model_name,
            self.registry_uri,
            lineage,
            str(settings.work_dir() / "exports"),
            code,
        )
        version_root = parse_uri(self.registry_uri).join(self.model_name, str(manifest["version"]))
        result = {
            "model_name": self.model_name,
            "version": manifest["version"],
            "model_uri": manifest["uri"],
            "manifest_uri": str(version_root.join(MANIFEST)),
            "code_uri": manifest.get("code", {}).get("uri"),
            "metrics": manifest["lineage"].get("metrics", {}),
        }
        for asset in self.outlets or []:
            context["outlet_events"][asset].extra = {k: v for k, v in result.items() if k != "metrics"}
        return result

    def _check_gate(self, store_for: Any, lineage: dict[str, Any]) -> dict[str, Any]:
        """Evaluate the quality gate before anything is published; fail or skip the task when the model misses it.

        :param store_for: returns the store for a URI.
        :param lineage: the new model's lineage (its metrics and DAG run).
        """
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        from ml_lifecycle.stores.model_registry import in_service_manifest
        from ml_lifecycle.stores.quality_gate import QualityGate

        gate = QualityGate.parse(self.quality_gate or {})
        root = parse_uri(self.registry_uri, "registry_uri").join(self.model_name)
        baseline = in_service_manifest(store_for(root), root, lineage.get("dag_run")) if gate.beat_in_service else None
        in_service = baseline["lineage"].get("metrics", {}) if baseline else None
        result = gate.evaluate(lineage.get("metrics", {}), in_service)
        if not result.passed:
            message = f"Quality gate: {self.model_name} is not published ({result.summary()})"
            self.log.warning(message)
            raise AirflowSkipException(message) if gate.on_fail == "skip" else AirflowFailException(message)
        self.log.info("Quality gate passed: %s", result.summary())
        return {
            "passed": True,
            "reasons": result.reasons,
            "in_service_version": baseline["version"] if baseline else None,
        }
