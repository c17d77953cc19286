"""TransformSpec's record fields: split types, manifest and gzip input, and DataProcessing checked when built."""

from __future__ import annotations

from typing import Any

import pytest

from ml_lifecycle.core.specs import TransformSpec
from ml_lifecycle.errors import SpecError

TRANSFORM: dict[str, Any] = {
    "image_uri": "localhost:5000/ml/linear:1",
    "model_uri": "s3://bucket/out/job/output/model.tar.gz",
    "input_uri": "s3://bucket/score/",
    "output_uri": "file:///tmp/scored",
}


@pytest.mark.parametrize(
    "override",
    [
        pytest.param({"split_type": "RecordIO", "content_type": "application/x-recordio-protobuf"}, id="recordio"),
        pytest.param({"split_type": "TFRecord", "batch_strategy": "SingleRecord"}, id="tfrecord"),
        pytest.param({"data_type": "ManifestFile", "input_uri": "s3://bucket/score.manifest"}, id="manifest"),
        pytest.param({"compression_type": "Gzip"}, id="gzip"),
        pytest.param(
            {
                "content_type": "text/csv",
                "accept": "text/csv",
                "input_filter": "$[1:]",
                "join_source": "Input",
                "output_filter": "$[0,-1]",
            },
            id="csv-join",
        ),
    ],
)
def test_accepts(override: dict[str, Any]) -> None:
    spec = TransformSpec(**{**TRANSFORM, **override})
    for name, value in override.items():
        assert getattr(spec, name) == value


def test_defaults_process_nothing() -> None:
    spec = TransformSpec(**TRANSFORM)
    assert (spec.data_type, spec.compression_type, spec.join_source) == ("S3Prefix", "None", "None")
    assert spec.data_processing() is None


def test_data_processing_is_built_from_the_fields() -> None:
    spec = TransformSpec(**TRANSFORM, content_type="application/json", input_filter="$.features")
    processing = spec.data_processing()
    assert processing is not None
    assert processing.filters_input and not processing.processes_output


@pytest.mark.parametrize(
    ("override", "parameter"),
    [
        pytest.param({"split_type": "RecordIo"}, "split_type", id="split-type-spelling"),
        pytest.param({"data_type": "AugmentedManifestFile"}, "data_type", id="augmented-manifest"),
        pytest.param({"compression_type": "gzip"}, "compression_type", id="compression-spelling"),
        pytest.param({"content_type": "text/csv", "input_filter": "$[0:1,3:]"}, "input_filter", id="bad-path"),
        pytest.param({"content_type": "text/csv", "output_filter": "$.id"}, "output_filter", id="name-on-csv"),
        pytest.param({"content_type": "text/csv", "join_source": "Both"}, "join_source", id="join-source"),
        pytest.param(
            {"content_type": "text/csv", "accept": "application/json", "join_source": "Input"}, "accept", id="accept"
        ),
        pytest.param({"input_filter": "$[1:]"}, "content_type", id="filter-without-content-type"),
    ],
)
def test_rejects_naming_the_parameter(override: dict[str, Any], parameter: str) -> None:
    with pytest.raises(SpecError) as caught:
        TransformSpec(**{**TRANSFORM, **override})
    assert caught.value.parameter == parameter
