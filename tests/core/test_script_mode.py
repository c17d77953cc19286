"""Script mode's pure parts: entry points the toolkits accept, the SDK's JSON encoding, the sagemaker_* names."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.script_mode import (
    check_entry_point,
    encode_hyperparameters,
    job_hyperparameters,
    repacked_model_uri,
    script_hyperparameters,
    script_mode_code,
    serving_environment,
    source_prefix,
)


@pytest.mark.parametrize("entry_point", ["train.py", "jobs/train.py", "run.sh", "a_b-c+d.py", ".hidden.py"])
def test_an_entry_point_inside_the_folder_is_kept(entry_point):
    assert check_entry_point(entry_point) == entry_point


@pytest.mark.parametrize(
    "entry_point", ["", "/abs/train.py", "../up.py", "a/../b.py", "-rf.py", "a b.py", "x;id", None]
)
def test_anything_else_is_refused_as_the_toolkits_would(entry_point):
    with pytest.raises(SpecError, match=r"entry_point: .* is not a path inside the source directory"):
        check_entry_point(entry_point)


def test_hyperparameters_are_json_encoded_as_the_sdk_sends_them():
    encoded = encode_hyperparameters({"epochs": 3, "lr": 0.1, "name": 'a "b"', "flag": True, "layers": [1, 2]})
    assert encoded == {"epochs": "3", "lr": "0.1", "name": '"a \\"b\\""', "flag": "true", "layers": "[1, 2]"}
    assert {k: json.loads(v) for k, v in encoded.items()}["name"] == 'a "b"'
    with pytest.raises(SpecError, match=r"hyperparameters\['bad'\]"):
        encode_hyperparameters({"bad": object()})


def test_the_script_mode_hyperparameters_name_the_program_the_archive_the_job_and_the_region():
    assert script_hyperparameters("train.py", "job-1", "eu-west-1") == {
        "sagemaker_program": '"train.py"',
        "sagemaker_submit_directory": '"/opt/ml/input/data/code/sourcedir.tar.gz"',
        "sagemaker_container_log_level": "20",
        "sagemaker_job_name": '"job-1"',
        "sagemaker_region": '"eu-west-1"',
    }


def test_a_job_without_an_entry_point_keeps_its_hyperparameters_as_they_are():
    plain = SimpleNamespace(entry_point=None, hyperparameters={"a": "1"}, container_log_level=20)
    assert job_hyperparameters(plain, "job", "us-east-1") == {"a": "1"}
    script = SimpleNamespace(entry_point="t.py", hyperparameters={"a": "1"}, container_log_level=10)
    merged = job_hyperparameters(script, "job", "us-east-1")
    assert merged["a"] == "1" and merged["sagemaker_container_log_level"] == "10"


def test_the_archive_is_kept_by_its_content_under_the_output_path():
    assert source_prefix("s3://b/models/", "ab" * 32) == f"s3://b/models/source/{'ab' * 16}/"


def test_serving_gets_the_sdks_environment_for_a_repacked_model():
    assert serving_environment("inference.py", "eu-west-1", 10) == {
        "SAGEMAKER_PROGRAM": "inference.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "10",
        "SAGEMAKER_REGION": "eu-west-1",
    }


@pytest.mark.parametrize(
    ("other", "same"),
    [
        (("s3://b/m/model.tar.gz", "10:e1", "c" * 64), True),
        (("s3://b/m/model.tar.gz", "11:e2", "c" * 64), False),  # the model object was overwritten
        (("s3://b/n/model.tar.gz", "10:e1", "c" * 64), False),  # another model
        (("s3://b/m/model.tar.gz", "10:e1", "d" * 64), False),  # other code
    ],
)
def test_a_repacked_model_is_kept_beside_the_model_by_model_version_and_code(other, same):
    first = repacked_model_uri("s3://b/m/model.tar.gz", "10:e1", "c" * 64)
    assert first.startswith("s3://b/m/script-mode/") and first.endswith("/model.tar.gz")
    assert (repacked_model_uri(*other) == first) is same


@pytest.mark.parametrize(
    ("hyperparameters", "inputs", "expected"),
    [
        (
            {"sagemaker_program": '"train.py"', "epochs": "3"},
            {"code": {"uri": "s3://b/out/source/abc/"}, "train": {"uri": "s3://b/data/"}},
            ("s3://b/out/source/abc/sourcedir.tar.gz", "train.py"),
        ),
        ({"epochs": "3"}, {"train": {"uri": "s3://b/data/"}}, None),  # not script mode
        ({"sagemaker_program": '"train.py"'}, {}, None),  # the program baked in an image, no code channel
    ],
)
def test_a_training_records_script_mode_code_is_its_code_channel_and_program(hyperparameters, inputs, expected):
    assert script_mode_code(hyperparameters, inputs) == expected
