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
