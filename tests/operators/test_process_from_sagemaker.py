"""ProcessOnEC2Operator.from_sagemaker: the provider's CreateProcessingJob config becomes the operator's spec, and a
field that cannot be honoured fails when the DAG is parsed, by name."""

from __future__ import annotations

import pytest
from support.api_server import ROLE_ARN, processing_request

from ml_lifecycle import ProcessOnEC2Operator
from ml_lifecycle.errors import SpecError


def test_the_providers_processing_config_becomes_the_spec():
    config = processing_request("split-1", "ml-lifecycle/split:dev")
    config["NetworkConfig"] = {"EnableNetworkIsolation": True}

    op = ProcessOnEC2Operator.from_sagemaker(config, task_id="process", records_uri="file:///tmp/records")
    spec = op.build_spec()

    assert (spec.image_uri, spec.arguments, spec.role_arn) == (
        "ml-lifecycle/split:dev",
        ("--validation-fraction", "0.25"),
        ROLE_ARN,
    )
    assert [(i.name, i.source, i.local_path) for i in spec.inputs] == [
        ("raw", "s3://ml-bucket/raw", "/opt/ml/processing/input")
    ]
    assert [(o.name, o.destination, o.upload_mode) for o in spec.outputs] == [
        ("train", "s3://ml-bucket/split/split-1/train", "EndOfJob"),
        ("validation", "s3://ml-bucket/split/split-1/validation", "EndOfJob"),
    ]
    assert (spec.instance_count, spec.volume_size_gb, spec.max_runtime_s) == (1, 10, 300)
    assert spec.enable_network_isolation and spec.records_uri == "file:///tmp/records"


def test_a_field_that_cannot_be_honoured_fails_by_name():
    config = processing_request("split-1", "ml-lifecycle/split:dev")
    config["ProcessingInputs"][0]["DatasetDefinition"] = {"LocalPath": "/opt/ml/processing/q"}
    with pytest.raises(SpecError, match=r"ProcessingInputs\[\]\.DatasetDefinition"):
        ProcessOnEC2Operator.from_sagemaker(config, task_id="process")
