"""Script mode on the local engine: a framework-like image (PyPI's sagemaker-training, unchanged, no code inside)
runs a user's source folder as the SageMaker SDK arranges it: sourcedir.tar.gz in the code channel, sagemaker_*
hyperparameters JSON-encoded, requirements.txt installed by the toolkit, dependencies importable. An unchanged
folder is neither repacked nor uploaded again."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
from support.framework_image import framework_image, script_mode_sources
from support.helpers import task_context

from ml_lifecycle import TrainOnEC2Operator
from ml_lifecycle.errors import SpecError

pytestmark = pytest.mark.docker

HYPERPARAMETERS = {"epochs": 3, "name": 'it\'s "quoted" $(id)'}


@pytest.fixture(scope="module")
def framework(docker_client: Any, toolkit_image: str) -> str:
    """The framework-like image, built once for the module."""
    return framework_image(docker_client, toolkit_image)


def _operator(image: str, data: Path, out: Path, source: Path, helpers: Path, **kwargs: Any) -> TrainOnEC2Operator:
    """Build a script-mode training operator.

    :param image: the image.
    :param data: the sample data folder.
    :param out: the output folder.
    :param source: the source folder.
    :param helpers: the dependency folder.
    :param kwargs: overrides.
    """
    return TrainOnEC2Operator(
        task_id="train",
        image_uri=image,
        channels={"train": f"file://{data}/train"},
        output_path=f"file://{out}",
        hyperparameters=HYPERPARAMETERS,
        entry_point="train.py",
        source_dir=str(source),
        dependencies=[str(helpers)],
        max_runtime_s=300,
        **kwargs,
    )


def test_a_source_folder_trains_in_a_framework_image_and_an_unchanged_one_is_uploaded_once(
    framework, sample_data, tmp_path, ml_home, capsys
):
    source, helpers = script_mode_sources(tmp_path)
    out = tmp_path / "out"
    result = _operator(framework, sample_data, out, source, helpers).execute(task_context(task_id="train"))

    with tarfile.open(result["model_uri"].removeprefix("file://")) as tar:
        trained = json.loads(tar.extractfile("result.json").read())  # type: ignore[union-attr]
    rows = sum(1 for path in (sample_data / "train").iterdir() for _ in path.open())
    assert trained == {
        "epochs": 3,
        "name": HYPERPARAMETERS["name"],
        "tiny": "tiny-ok",  # installed from requirements.txt by the toolkit
        "helper": 42,  # the dependency folder, at the archive's root
        "rows": rows,
        "cwd": "/opt/ml/code",
        "program": "train.py",
    }
    (archive,) = (out / "source").glob("*/sourcedir.tar.gz")
    with tarfile.open(archive) as tar:
        assert sorted(tar.getnames()) == [
            "helpers/__init__.py",
            "requirements.txt",
            "train.py",
            "wheels/tinypkg-1.0-py3-none-any.whl",
        ]
    config = json.loads((out / result["job_name"] / "status.json").read_text())["hyperparameters"]
    assert config == {  # as the container got them, in the SDK's encoding
        "epochs": "3",
        "name": json.dumps(HYPERPARAMETERS["name"]),
        "sagemaker_program": '"train.py"',
        "sagemaker_submit_directory": '"/opt/ml/input/data/code/sourcedir.tar.gz"',
        "sagemaker_container_log_level": "20",
        "sagemaker_job_name": json.dumps(result["job_name"]),
        "sagemaker_region": '"us-east-1"',
    }
    assert "packed (4 files" in capsys.readouterr().out

    uploaded_ns = archive.stat().st_mtime_ns
    (source / "__pycache__").mkdir()
    (source / "__pycache__" / "train.cpython-311.pyc").write_bytes(b"changes nothing")
    again = _operator(framework, sample_data, out, source, helpers).execute(task_context(task_id="train"))
    assert again["job_name"] != result["job_name"]
    assert list((out / "source").glob("*/sourcedir.tar.gz")) == [archive]
    assert archive.stat().st_mtime_ns == uploaded_ns, "an unchanged folder was uploaded again"
    assert "Source code unchanged (4 files" in capsys.readouterr().out


def test_a_changed_file_is_a_new_archive(framework, sample_data, tmp_path, ml_home):
    source, helpers = script_mode_sources(tmp_path)
    out = tmp_path / "out"
    first = _operator(framework, sample_data, out, source, helpers).build_spec()
    (source / "train.py").write_text((source / "train.py").read_text() + "\n# changed\n")
    second = _operator(framework, sample_data, out, source, helpers).build_spec()
    assert first.channels["code"].uri != second.channels["code"].uri


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"entry_point": "missing.py"}, "entry_point: 'missing.py' is not a file in"),
        ({"entry_point": "../escape.py"}, "entry_point: '../escape.py' is not a path inside the source directory"),
        ({"channels": {"code": "file:///tmp"}}, "channels: has a channel named 'code'"),
        ({"dependencies": ["/nowhere/lib"]}, "dependencies: '/nowhere/lib' does not exist on this machine"),
    ],
)
def test_bad_script_mode_arguments_fail_before_anything_is_written(
    framework, sample_data, tmp_path, ml_home, kwargs, message
):
    source, helpers = script_mode_sources(tmp_path)
    base: dict[str, Any] = {
        "task_id": "train",
        "image_uri": framework,
        "channels": {"train": f"file://{sample_data}/train"},
        "output_path": f"file://{tmp_path / 'out'}",
        "entry_point": "train.py",
        "source_dir": str(source),
        "dependencies": [str(helpers)],
    }
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        TrainOnEC2Operator(**{**base, **kwargs}).execute(task_context(task_id="train"))
    assert not (tmp_path / "out").exists()
