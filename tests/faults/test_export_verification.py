"""A broken model is never published, and a published version that changed is never unpacked.

Each case first shows what went wrong before the archive check existed: the archive is one tarfile reads (or
would reach the registry); then that ExportArtifactsOperator refuses it, naming the problem, and leaves the
registry's versions (and so its newest) as they were.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest
from support.helpers import task_context
from support.models import linear_model_archive

from ml_lifecycle import BatchTransformOperator, ExportArtifactsOperator
from ml_lifecycle.core.uris import parse_uri
from ml_lifecycle.errors import MlLifecycleError, TransformFailed
from ml_lifecycle.stores import store_for
from ml_lifecycle.stores.model_registry import versions

MODEL = json.dumps({"weights": [1.0] * 8, "intercept": 0.0, "n_features": 8, "target_column": 0}).encode()


def _gz_tar(members: dict[str, bytes]) -> bytes:
    """Return a gzipped tar of files.

    :param members: name -> bytes.
    """
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def _truncated() -> bytes:
    """A model.tar.gz cut short after the tar's end marker was compressed: tarfile reads it without an error."""
    whole = _gz_tar({"model.json": MODEL, "padding.bin": b"\0" * 60_000})
    return whole[: len(whole) - 6]


BROKEN = {
    "truncated-gzip": (_truncated, "damaged gzip file"),
    "not-an-archive": (lambda: b"this is a CSV, not a model\n1,2,3\n" * 50, "not a tar archive"),
    "escaping-member": (lambda: _gz_tar({"../../outside.txt": b"x", "model.json": MODEL}), "leaves the folder"),
}


def _registry_state(registry: Path) -> list[str]:
    """Return every file under the registry (versions, manifests, models).

    :param registry: the registry root.
    """
    return sorted(str(p.relative_to(registry)) for p in registry.rglob("*") if p.is_file())


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_model_is_refused_and_the_registry_keeps_its_newest(tmp_path: Path, case: str) -> None:
    build, message = BROKEN[case]
    registry = tmp_path / "registry"
    good = linear_model_archive(tmp_path / "good" / "model.tar.gz", [1.0] * 8)
    ExportArtifactsOperator(
        task_id="export", model_uri=good, model_name="linear", registry_uri=f"file://{registry}"
    ).execute(task_context())
    before = _registry_state(registry)
    bad = tmp_path / "bad" / "model.tar.gz"
    bad.parent.mkdir()
    bad.write_bytes(build())
    if case == "truncated-gzip":  # the failure this check exists for: tarfile alone reads it without complaint
        with tarfile.open(bad, "r:gz") as tar:
            assert "model.json" in tar.getnames()

    with pytest.raises(MlLifecycleError, match=message) as refused:
        ExportArtifactsOperator(
            task_id="export", model_uri=f"file://{bad}", model_name="linear", registry_uri=f"file://{registry}"
        ).execute(task_context())

    assert str(bad) in str(refused.value)
    assert _registry_state(registry) == before
    root = parse_uri(f"file://{registry}/linear")
    assert versions(store_for(root), root) == [1]


@pytest.mark.docker
def test_a_published_version_whose_bytes_changed_is_not_unpacked(tmp_path: Path, example_image: str, ml_home) -> None:
    registry = tmp_path / "registry"
    good = linear_model_archive(tmp_path / "good" / "model.tar.gz", [1.0] * 8)
    published = ExportArtifactsOperator(
        task_id="export", model_uri=good, model_name="linear", registry_uri=f"file://{registry}"
    ).execute(task_context())
    stored = Path(published["model_uri"].removeprefix("file://"))
    other = Path(linear_model_archive(tmp_path / "other" / "model.tar.gz", [9.0] * 8).removeprefix("file://"))
    stored.write_bytes(other.read_bytes())  # the registry's copy changed after it was published
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text("1,1,1,1,1,1,1,1\n")

    with pytest.raises(TransformFailed, match="does not match the sha256 its manifest records"):
        BatchTransformOperator(
            task_id="score",
            image_uri=example_image,
            model_uri=published["model_uri"],
            input_uri=f"file://{tmp_path}/in",
            output_uri=f"file://{tmp_path}/out",
            content_type="text/csv",
        ).execute(task_context())
    assert not (tmp_path / "out" / "a.csv.out").exists()
