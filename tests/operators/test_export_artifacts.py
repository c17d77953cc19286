"""ExportArtifactsOperator: numbered, verified model versions with lineage, on file:// stores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.helpers import task_context
from support.models import linear_model_archive

from ml_lifecycle import ExportArtifactsOperator
from ml_lifecycle.errors import SpecError


def _export(model_uri: str, registry: Path, context: dict) -> dict:
    """Publish a model with ExportArtifactsOperator.

    :param model_uri: the model archive.
    :param registry: the registry root folder.
    :param context: the task context.
    """
    op = ExportArtifactsOperator(
        task_id="export", model_uri=model_uri, model_name="linear", registry_uri=f"file://{registry}"
    )
    return op.execute(context)


def test_versions_count_up_and_a_retry_returns_the_same_version(tmp_path):
    model = linear_model_archive(tmp_path / "m1.tar.gz", [1.0, 2.0])
    context = task_context()
    first = _export(model, tmp_path / "registry", context)
    retried = _export(model, tmp_path / "registry", context)
    second = _export(model, tmp_path / "registry", task_context())

    assert (first["version"], retried["version"], second["version"]) == (1, 1, 2)
    stored = tmp_path / "registry" / "linear" / "2" / "model.tar.gz"
    assert stored.read_bytes() == (tmp_path / "m1.tar.gz").read_bytes()
    manifest = json.loads((tmp_path / "registry" / "linear" / "2" / "manifest.json").read_text())
    assert manifest["model"]["size_bytes"] == stored.stat().st_size
    assert (
        manifest["lineage"]["dag_run"]
        != json.loads((tmp_path / "registry" / "linear" / "1" / "manifest.json").read_text())["lineage"]["dag_run"]
    )


def test_lineage_comes_from_the_training_record(tmp_path):
    job = tmp_path / "training" / "job-1"
    model = linear_model_archive(job / "output" / "model.tar.gz", [1.0])
    record = {
        "job_name": "job-1",
        "kind": "training",
        "status": "Completed",
        "image_uri": "127.0.0.1:5000/m@sha256:" + "a" * 64,
        "image_digest": "127.0.0.1:5000/m@sha256:" + "a" * 64,
        "inputs": {"train": {"uri": "file:///data", "etags_sha256": "f" * 64}},
        "hyperparameters": {"l2": "0.1"},
        "metrics": {"rmse": 0.25},
    }
    (job / "status.json").write_text(json.dumps(record))
    result = _export(model, tmp_path / "registry", task_context())
    manifest = json.loads(Path(result["manifest_uri"].removeprefix("file://")).read_text())

    assert manifest["lineage"]["image_digest"] == record["image_digest"]
    assert manifest["lineage"]["inputs"] == record["inputs"]
    assert manifest["lineage"]["hyperparameters"] == {"l2": "0.1"}
    assert result["metrics"] == {"rmse": 0.25}


def test_a_missing_model_fails_without_creating_a_version(tmp_path):
    with pytest.raises(FileNotFoundError):
        _export(f"file://{tmp_path}/nothing/model.tar.gz", tmp_path / "registry", task_context())
    assert not (tmp_path / "registry" / "linear").exists() or not any((tmp_path / "registry" / "linear").iterdir())


@pytest.mark.parametrize(
    ("overrides", "parameter"),
    [({"model_name": "bad name"}, "model_name"), ({"registry_uri": "http://x"}, "registry_uri")],
)
def test_bad_arguments_fail_when_the_dag_is_parsed(overrides, parameter):
    args = dict(task_id="e", model_uri="file:///m.tar.gz", model_name="linear", registry_uri="file:///r")
    args.update(overrides)
    with pytest.raises(SpecError, match=parameter):
        ExportArtifactsOperator(**args)


def _trained(tmp_path: Path, job: str, metrics: dict, weights: list[float]) -> str:
    """Lay out a finished training job (model and record) and return its model URI.

    :param tmp_path: the test's folder.
    :param job: the job name.
    :param metrics: the record's final metrics.
    :param weights: the model's weights (different weights, different bytes).
    """
    root = tmp_path / "training" / job
    model = linear_model_archive(root / "output" / "model.tar.gz", weights)
    record = {"job_name": job, "kind": "training", "status": "Completed", "metrics": metrics}
    (root / "status.json").write_text(json.dumps(record))
    return model


def _gated(model_uri: str, registry: Path, gate: dict, context: dict, **kwargs) -> dict:
    """Publish through a quality gate.

    :param model_uri: the model archive.
    :param registry: the registry root folder.
    :param gate: the quality_gate argument.
    :param context: the task context.
    :param kwargs: more operator arguments.
    """
    op = ExportArtifactsOperator(
        task_id="export",
        model_uri=model_uri,
        model_name="linear",
        registry_uri=f"file://{registry}",
        quality_gate=gate,
        **kwargs,
    )
    return op.execute(context)


def _published(registry: Path) -> list[str]:
    """List the version folders that hold a manifest.

    :param registry: the registry root folder.
    """
    return sorted(p.parent.name for p in (registry / "linear").glob("*/manifest.json"))


def test_a_model_within_the_threshold_is_published_with_the_gate_in_its_lineage(tmp_path):
    model = _trained(tmp_path, "job-ok", {"validation_rmse": 0.25}, [1.0])
    result = _gated(model, tmp_path / "registry", {"metric": "validation_rmse", "max": 0.5}, task_context())

    manifest = json.loads(Path(result["manifest_uri"].removeprefix("file://")).read_text())
    assert manifest["lineage"]["quality_gate"]["passed"] is True
    assert "validation_rmse=0.25 <= max 0.5" in manifest["lineage"]["quality_gate"]["reasons"]


def test_a_model_past_the_threshold_fails_the_task_and_publishes_nothing(tmp_path):
    from airflow.sdk.exceptions import AirflowFailException

    model = _trained(tmp_path, "job-bad", {"validation_rmse": 0.75}, [1.0])
    with pytest.raises(AirflowFailException, match=r"validation_rmse=0.75 > max 0.5"):
        _gated(model, tmp_path / "registry", {"metric": "validation_rmse", "max": 0.5}, task_context())
    assert _published(tmp_path / "registry") == []
    assert not (tmp_path / "registry").exists() or not any((tmp_path / "registry").rglob("model.tar.gz"))


def test_on_fail_skip_skips_the_task_and_publishes_nothing(tmp_path):
    from airflow.sdk.exceptions import AirflowSkipException

    model = _trained(tmp_path, "job-low", {"auc": 0.6}, [1.0])
    gate = {"metric": "auc", "min": 0.8, "on_fail": "skip"}
    with pytest.raises(AirflowSkipException, match=r"auc=0.6 < min 0.8"):
        _gated(model, tmp_path / "registry", gate, task_context())
    assert _published(tmp_path / "registry") == []


def test_beat_in_service_compares_with_the_newest_version_of_another_run(tmp_path):
    from airflow.sdk.exceptions import AirflowFailException

    registry = tmp_path / "registry"
    gate = {"metric": "validation_rmse", "beat_in_service": True, "goal": "minimize"}
    first = _gated(_trained(tmp_path, "job-1", {"validation_rmse": 0.3}, [1.0]), registry, gate, task_context())
    assert first["version"] == 1  # nothing in service yet: the first model passes

    with pytest.raises(AirflowFailException, match="does not beat the version in service"):
        _gated(_trained(tmp_path, "job-2", {"validation_rmse": 0.4}, [2.0]), registry, gate, task_context())

    better = _trained(tmp_path, "job-3", {"validation_rmse": 0.2}, [3.0])
    context = task_context()
    second = _gated(better, registry, gate, context)
    retried = _gated(better, registry, gate, context)  # a retry of the same run is not compared with itself
    assert (second["version"], retried["version"]) == (2, 2)
    assert _published(registry) == ["1", "2"]


def test_require_any_passes_when_one_condition_holds(tmp_path):
    registry = tmp_path / "registry"
    _gated(
        _trained(tmp_path, "job-1", {"validation_rmse": 0.3}, [1.0]),
        registry,
        {"metric": "validation_rmse", "max": 1},
        task_context(),
    )
    gate = {"metric": "validation_rmse", "max": 0.35, "beat_in_service": True, "require": "any"}
    result = _gated(_trained(tmp_path, "job-2", {"validation_rmse": 0.32}, [2.0]), registry, gate, task_context())
    assert result["version"] == 2


def test_a_missing_metric_fails_and_names_the_metrics_there_are(tmp_path):
    from airflow.sdk.exceptions import AirflowFailException

    model = _trained(tmp_path, "job-m", {"train_rmse": 0.1}, [1.0])
    with pytest.raises(AirflowFailException, match=r"no value for 'validation_rmse' \(its metrics: train_rmse\)"):
        _gated(model, tmp_path / "registry", {"metric": "validation_rmse", "max": 0.5}, task_context())


def test_metrics_given_to_the_operator_override_the_record_and_rendered_strings_count(tmp_path):
    model = _trained(tmp_path, "job-o", {"validation_rmse": 0.9}, [1.0])
    gate = {"metric": "validation_rmse", "max": "0.5", "beat_in_service": "true"}
    result = _gated(model, tmp_path / "registry", gate, task_context(), metrics={"validation_rmse": 0.4})
    assert result["metrics"]["validation_rmse"] == 0.4


@pytest.mark.parametrize(
    ("gate", "problem"),
    [
        ({"max": 0.5}, "no metric is named"),
        ({"metric": "rmse"}, "the gate has no condition"),
        ({"metric": "rmse", "max": "low"}, "is not a number"),
        ({"metric": "rmse", "max": 1, "on_fail": "ignore"}, "on_fail='ignore' is unknown"),
        ({"metric": "rmse", "beat_in_service": True, "goal": "up"}, "goal 'up' is unknown"),
        ({"metric": "rmse", "maximum": 1}, "unknown keys"),
        ({"metric": "rmse", "beat_in_service": "maybe"}, "is not a boolean"),
    ],
)
def test_a_bad_gate_fails_when_the_dag_is_parsed(gate, problem):
    with pytest.raises(SpecError, match="quality_gate") as err:
        ExportArtifactsOperator(
            task_id="e", model_uri="file:///m.tar.gz", model_name="linear", registry_uri="file:///r", quality_gate=gate
        )
    assert problem in str(err.value)
