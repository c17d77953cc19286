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
    script_hyperparameters,
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
