"""Training inputs and checkpoints: ShardedByS3Key, ManifestFile channels, checkpoint sync, uncompressed output."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
from support.helpers import task_context

from ml_lifecycle import Channel, TrainOnEC2Operator
from ml_lifecycle.errors import SpecError

pytestmark = pytest.mark.docker

LIST_MY_FILES = "cd /opt/ml/input/data/train && find . -type f | sort > /opt/ml/model/$(hostname).txt; sleep 2"


def _files(tmp_path: Path, count: int) -> Path:
    """Write count small files (one nested) and return their folder.

    :param tmp_path: a scratch folder.
    :param count: how many files.
    """
    folder = tmp_path / "data"
    for i in range(count):
        path = folder / ("nested" if i % 3 == 0 else "") / f"part-{i:03d}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{i},1\n")
    return folder


def _model_files(result: dict) -> dict[str, str]:
    """Read model.tar.gz's text files.

    :param result: the operator's result.
    """
    with tarfile.open(result["model_uri"].removeprefix("file://")) as tar:
        return {m.name: tar.extractfile(m).read().decode() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def test_sharded_by_key_gives_each_host_its_share_without_copying(example_image, tmp_path, ml_home):
    folder = _files(tmp_path, 7)
    op = TrainOnEC2Operator(
        task_id="train",
        image_uri=example_image,
        channels={"train": Channel(f"file://{folder}", distribution="ShardedByS3Key")},
        output_path=f"file://{tmp_path}/out",
        instance_count=3,
        entrypoint=["sh", "-c", LIST_MY_FILES],
    )
    shares = {name: text.split() for name, text in _model_files(op.execute(task_context())).items()}

    everything = sorted(str(p.relative_to(folder)) for p in folder.rglob("*.csv"))
    assert sorted(f.removeprefix("./") for share in shares.values() for f in share) == everything
    assert sorted(len(share) for share in shares.values()) == [2, 2, 3]
    assert [f.removeprefix("./") for f in shares["algo-1.txt"]] == sorted(everything[0::3])


def test_a_manifest_channel_stages_exactly_the_listed_objects(example_image, tmp_path, ml_home):
    folder = _files(tmp_path, 5)
    manifest = tmp_path / "train.manifest"
    manifest.write_text(json.dumps([{"prefix": f"file://{folder}/"}, "part-001.csv", "nested/part-003.csv"]))
    op = TrainOnEC2Operator(
        task_id="train",
        image_uri=example_image,
        channels={"train": Channel(f"file://{manifest}", data_type="ManifestFile")},
        output_path=f"file://{tmp_path}/out",
        entrypoint=["sh", "-c", LIST_MY_FILES],
    )
    listed = _model_files(op.execute(task_context()))
    assert sorted(listed[next(iter(listed))].split()) == ["./nested/part-003.csv", "./part-001.csv"]


def test_a_manifest_naming_a_missing_object_fails_before_starting(example_image, tmp_path, ml_home):
    folder = _files(tmp_path, 2)
    manifest = tmp_path / "train.manifest"
    manifest.write_text(json.dumps([{"prefix": f"file://{folder}"}, "part-001.csv", "missing.csv"]))
    op = TrainOnEC2Operator(
        task_id="train",
        image_uri=example_image,
        channels={"train": Channel(f"file://{manifest}", data_type="ManifestFile")},
        output_path=f"file://{tmp_path}/out",
    )
    with pytest.raises(SpecError, match=r"missing\.csv"):
        op.execute(task_context())
    assert not (tmp_path / "out").exists()


def test_checkpoints_are_restored_at_start_and_uploaded_with_deletes(example_image, sample_data, tmp_path, ml_home):
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    (checkpoints / "epoch-1.ckpt").write_text("from an earlier attempt")
    (checkpoints / "stale.ckpt").write_text("to be deleted")
    script = (
        "cat /opt/ml/checkpoints/epoch-1.ckpt > /opt/ml/model/restored.txt && "
        "echo two > /opt/ml/checkpoints/epoch-2.ckpt && rm /opt/ml/checkpoints/stale.ckpt"
    )
    op = TrainOnEC2Operator(
        task_id="train",
        image_uri=example_image,
        channels={"train": f"file://{sample_data}/train"},
        output_path=f"file://{tmp_path}/out",
        checkpoint_uri=f"file://{checkpoints}",
        entrypoint=["sh", "-c", script],
    )
    result = op.execute(task_context())

    assert _model_files(result)["restored.txt"] == "from an earlier attempt"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["epoch-1.ckpt", "epoch-2.ckpt"]
    assert (checkpoints / "epoch-2.ckpt").read_text() == "two\n"


def test_compression_none_uploads_the_model_files_as_they_are(example_image, sample_data, tmp_path, ml_home):
    op = TrainOnEC2Operator(
        task_id="train",
        image_uri=example_image,
        channels={"train": f"file://{sample_data}/train"},
        output_path=f"file://{tmp_path}/out",
        compression="NONE",
    )
    result = op.execute(task_context())
    model_dir = Path(result["model_uri"].removeprefix("file://"))
    assert model_dir.name == "model" and (model_dir / "model.json").is_file()
