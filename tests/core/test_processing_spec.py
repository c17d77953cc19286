"""ProcessingSpec: every bad field fails when the spec is built, naming the field and what to write instead."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ml_lifecycle.core.processing_spec import ProcessingInput, ProcessingOutput, ProcessingSpec
from ml_lifecycle.errors import SpecError

RAW = {"name": "raw", "source": "s3://bucket/raw/", "local_path": "/opt/ml/processing/input"}
TRAIN = {"name": "train", "local_path": "/opt/ml/processing/train", "destination": "s3://bucket/train/"}
BASE: dict[str, Any] = {
    "image_uri": "localhost:5000/ml/split:1",
    "records_uri": "s3://bucket/records",
    "inputs": [RAW],
    "outputs": [TRAIN],
}


def _build(**changes: Any) -> ProcessingSpec:
    """Build a spec from BASE with some arguments changed.

    :param changes: the arguments to change.
    """
    return ProcessingSpec.build(**{**BASE, **changes})


@pytest.mark.parametrize(
    ("changes", "parameter", "problem"),
    [
        ({"image_uri": "UPPER CASE"}, "image_uri", ""),
        ({"records_uri": "ftp://host/records"}, "records_uri", ""),
        (
            {"inputs": [{**RAW, "local_path": "/data/raw"}]},
            "inputs['raw'].local_path",
            "is not below /opt/ml/processing/",
        ),
        ({"inputs": [{**RAW, "local_path": "/opt/ml/processing/"}]}, "inputs['raw'].local_path", "not a plain folder"),
        ({"inputs": [{**RAW, "local_path": "/opt/ml/processing/a/../b"}]}, "inputs['raw'].local_path", ""),
        ({"inputs": [{**RAW, "source": "http://x/y"}]}, "inputs['raw'].source", ""),
        ({"inputs": [{**RAW, "data_type": "AugmentedManifestFile"}]}, "inputs['raw'].data_type", ""),
        ({"inputs": [{**RAW, "distribution": "Random"}]}, "inputs['raw'].distribution", ""),
        ({"inputs": [{**RAW, "compression": "Zstd"}]}, "inputs['raw'].compression", ""),
        ({"inputs": [{**RAW, "input_mode": "Pipe"}]}, "inputs['raw'].input_mode", ""),
        ({"inputs": [{**RAW, "name": "bad name!"}]}, "inputs['bad name!'].name", "is not a valid name"),
        ({"inputs": [{**RAW, "bucket": "b"}]}, "inputs[0]", "unexpected keyword"),
        ({"inputs": ["s3://bucket/raw"]}, "inputs[0]", "is not a dict"),
        ({"inputs": [RAW, {**RAW, "local_path": "/opt/ml/processing/other"}]}, "inputs", "are not unique"),
        ({"outputs": [{**TRAIN, "local_path": "/opt/ml/processing/input/x"}]}, "local_path of 'raw' and 'train'", ""),
        ({"outputs": [{**TRAIN, "local_path": "/opt/ml/processing/input"}]}, "local_path of 'raw' and 'train'", ""),
        ({"outputs": [TRAIN, {**TRAIN, "name": "again"}]}, "local_path of 'train' and 'again'", "overlap"),
        ({"inputs": [RAW, {**RAW, "name": "in", "local_path": "/opt/ml/processing/input/in"}]}, "local_path", ""),
        ({"outputs": [{**TRAIN, "destination": "gs://b/p"}]}, "outputs['train'].destination", ""),
        ({"outputs": [{**TRAIN, "upload_mode": "Streaming"}]}, "outputs['train'].upload_mode", ""),
        ({"outputs": [{**TRAIN, "name": "status"}]}, "outputs['status'].name", "a key the task's XCom uses"),
        ({"outputs": [TRAIN] * 11}, "inputs/outputs", "more than 10"),
        ({"entrypoint": "python3 run.py"}, "entrypoint", "is not a list of strings"),
        ({"arguments": ["x" * 257]}, "arguments", "longer than 256"),
        ({"arguments": [str(i) for i in range(101)]}, "arguments", "more than 100"),
        ({"instance_count": 0}, "instance_count", ""),
        ({"volume_size_gb": 0}, "volume_size_gb", ""),
        ({"max_runtime_s": 0}, "max_runtime_s", ""),
        ({"environment": {"1BAD": "x"}}, "environment", ""),
        ({"role_arn": "role/name"}, "role_arn", ""),
        ({"instance_type": ""}, "instance_type", "is empty"),
    ],
)
def test_a_bad_field_fails_naming_it(changes: dict[str, Any], parameter: str, problem: str) -> None:
    with pytest.raises(SpecError, match="^" + re.escape(f"{parameter}") + ".*" + re.escape(problem)):
        _build(**changes)


def test_an_output_inside_another_output_is_allowed_as_on_sagemaker() -> None:
    evaluation = {"name": "evaluation", "local_path": "/opt/ml/processing/train/evaluation", "destination": "s3://b/e"}
    spec = _build(outputs=[TRAIN, evaluation])
    assert [o.local_path for o in spec.outputs] == ["/opt/ml/processing/train", "/opt/ml/processing/train/evaluation"]


def test_defaults_are_sagemakers() -> None:
    spec = _build()
    assert spec.inputs == (
        ProcessingInput("raw", "s3://bucket/raw/", "/opt/ml/processing/input", "S3Prefix", "FullyReplicated", "None"),
    )
    assert spec.outputs == (ProcessingOutput("train", "/opt/ml/processing/train", "s3://bucket/train/", "EndOfJob"),)
    assert (spec.entrypoint, spec.arguments, spec.instance_count, spec.volume_size_gb) == ((), (), 1, 30)


@pytest.mark.parametrize(
    ("written", "kept"),
    [("/opt/ml/processing/input/", "/opt/ml/processing/input"), ("/opt/ml/processing/a/b", "/opt/ml/processing/a/b")],
)
def test_a_local_path_is_kept_without_its_trailing_slash(written: str, kept: str) -> None:
    assert _build(inputs=[{**RAW, "local_path": written}]).inputs[0].local_path == kept


def test_the_spec_survives_its_dict_exactly() -> None:
    spec = _build(
        inputs=[RAW, {**RAW, "name": "m", "local_path": "/opt/ml/processing/m", "data_type": "ManifestFile"}],
        entrypoint=["python3", "/opt/program/p.py"],
        arguments=["--fraction", "0.2"],
        environment={"A": 1},
        secrets={"TOKEN": "ssm:/token"},
        instance_count="2",
        gpus=1,
        shm_size="1g",
        enable_network_isolation=True,
    )
    assert ProcessingSpec.from_dict(spec.to_dict()) == spec


def test_an_unknown_field_in_a_dict_is_refused() -> None:
    with pytest.raises(SpecError, match="unknown fields"):
        ProcessingSpec.from_dict({**_build().to_dict(), "channels": {}})
