"""What a completed job read and wrote, per kind, and how locations are named as OpenLineage datasets."""

from __future__ import annotations

import pytest

from ml_lifecycle.core.job_kinds import TRAINING, TRANSFORM
from ml_lifecycle.core.specs import TrainingSpec, TransformSpec
from ml_lifecycle.lineage.datasets import dataset_name


def test_training_read_its_data_channels_and_wrote_its_model():
    spec = TrainingSpec.build(
        image_uri="img",
        channels={
            "train": "s3://b/data/train",
            "validation": "file:///data/val",
            "code": "s3://b/src/sourcedir.tar.gz",
        },
        output_path="s3://b/out",
    )
    inputs, outputs = TRAINING.lineage(spec, {"model_uri": "s3://b/out/j/output/model.tar.gz", "output_uri": "x"})
    assert sorted(inputs) == ["file:///data/val", "s3://b/data/train"]  # script mode's code is not data
    assert outputs == ["s3://b/out/j/output/model.tar.gz"]


def test_a_transform_read_its_input_and_model_and_wrote_its_output():
    spec = TransformSpec(image_uri="img", model_uri="s3://b/m.tar.gz", input_uri="s3://b/in", output_uri="s3://b/out")
    assert TRANSFORM.lineage(spec, {"output_uri": "s3://b/out"}) == (["s3://b/in", "s3://b/m.tar.gz"], ["s3://b/out"])


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://bucket/data/train", ("s3://bucket", "data/train")),
        ("s3://bucket/model.tar.gz", ("s3://bucket", "model.tar.gz")),
        ("file:///srv/data/train", ("file", "/srv/data/train")),
    ],
)
def test_dataset_names_follow_openlineage_and_the_provider(uri, expected):
    assert dataset_name(uri) == expected
