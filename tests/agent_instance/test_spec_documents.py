"""Training specs and job documents survive JSON exactly; unknown versions and fields are refused."""

from __future__ import annotations

import dataclasses
import json

import pytest

from ml_lifecycle.core.data_capture import DataCapture
from ml_lifecycle.core.ec2.spec_documents import (
    LOG_GROUPS,
    JobDocument,
    flat_spec_from_dict,
    flat_spec_to_dict,
    training_spec_from_dict,
    training_spec_to_dict,
)
from ml_lifecycle.core.specs import Channel, EndpointSpec, TrainingSpec, TransformSpec
from ml_lifecycle.errors import SpecError

MINIMAL = TrainingSpec.build(image_uri="team/model:1", channels={"train": "s3://b/train"}, output_path="s3://b/out")
FULL = TrainingSpec.build(
    image_uri="123456789012.dkr.ecr.eu-west-1.amazonaws.com/m@sha256:" + "a" * 64,
    channels={
        "train": Channel("s3://b/train", distribution="ShardedByS3Key", content_type="text/csv"),
        "manifest": {"uri": "s3://b/m.json", "data_type": "ManifestFile"},
    },
    output_path="s3://b/out",
    hyperparameters={"l2": 0.5, "name": "x y", "quote": '"q"'},
    instance_type="ml.g5.xlarge",
    instance_count=3,
    max_runtime_s=600,
    metric_definitions=[{"Name": "rmse", "Regex": r"rmse=([0-9.]+)"}, {"Name": "acc", "Regex": "acc (.*)"}],
    environment={"A": "1", "B": "$(rm -rf /)"},
    entrypoint=["sh", "-c", "echo 'hi'"],
    arguments=["train", "--x"],
    compression="NONE",
    checkpoint_uri="s3://b/ckpt",
    enable_network_isolation=True,
)


def _document(spec: TrainingSpec) -> JobDocument:
    """Build a job document around a spec.

    :param spec: the spec.
    """
    return JobDocument(
        job_name="dag-task-0123abcd",
        spec=spec,
        owner={"ml-lifecycle.dag-id": "dag"},
        region="eu-west-1",
        instance_count=spec.instance_count,
        deadline_epoch_s=1_790_000_000,
        use_spot=True,
        record_uri="s3://b/out/dag-task-0123abcd/status.json",
        staging_uri="s3://b/out/dag-task-0123abcd/staging/",
        launched_at_epoch_s=1_789_990_000.5,
    )


@pytest.mark.parametrize("spec", [MINIMAL, FULL], ids=["minimal", "full"])
def test_a_spec_survives_json_exactly(spec):
    assert training_spec_from_dict(json.loads(json.dumps(training_spec_to_dict(spec)))) == spec


@pytest.mark.parametrize("spec", [MINIMAL, FULL], ids=["minimal", "full"])
def test_a_job_document_survives_json_exactly(spec):
    document = _document(spec)
    data = json.loads(json.dumps(document.to_dict()))
    assert JobDocument.from_dict(data) == document
    assert data["version"] == 1 and data["kind"] == "training"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": 2}, r"version 2, but this agent reads only version 1"),
        ({"version": None}, r"version None"),
        ({"kind": "notebook"}, r"kind 'notebook'"),  # a kind no agent runs
        ({"region": None, "job_name": None}, None),
    ],
)
def test_a_document_this_agent_cannot_read_is_refused(change, message):
    data = _document(MINIMAL).to_dict()
    data.update(change)
    if message is None:
        for key in change:
            del data[key]
        message = r"lacks the field"
    with pytest.raises(SpecError, match=message):
        JobDocument.from_dict(data)


def test_a_spec_with_an_unknown_field_is_refused():
    data = training_spec_to_dict(MINIMAL) | {"volume_gb": 30}
    with pytest.raises(SpecError, match=r"unknown fields \['volume_gb'\]"):
        training_spec_from_dict(data)


def test_a_spec_is_validated_when_read():
    data = training_spec_to_dict(MINIMAL) | {"instance_count": 0}
    with pytest.raises(SpecError, match="instance_count"):
        training_spec_from_dict(data)


TRANSFORM = TransformSpec(
    image_uri="123456789012.dkr.ecr.eu-west-1.amazonaws.com/m@sha256:" + "a" * 64,
    model_uri="s3://b/model.tar.gz",
    input_uri="s3://b/in/",
    output_uri="s3://b/out/",
    content_type="text/csv",
    batch_strategy="MultiRecord",
    max_payload_mb=6,
    environment={"A": "1"},
    instance_count=2,
    input_filter="$[1:]",
    join_source="Input",
)
ENDPOINT = EndpointSpec(
    endpoint_name="churn",
    image_uri="123456789012.dkr.ecr.eu-west-1.amazonaws.com/m@sha256:" + "a" * 64,
    model_uri="s3://b/model.tar.gz",
    instance_count=2,
    environment={"B": "2"},
)

CAPTURING = dataclasses.replace(
    ENDPOINT,
    data_capture=DataCapture(40, "s3://b/capture", capture_output=False, csv_content_types=("text/csv",)),
)


@pytest.mark.parametrize(("kind", "spec"), [("transform", TRANSFORM), ("endpoint", ENDPOINT), ("endpoint", CAPTURING)])
def test_transform_and_endpoint_documents_survive_json_exactly(kind, spec):
    document = JobDocument(
        job_name="j",
        kind=kind,
        spec=spec,
        region="eu-west-1",
        instance_count=spec.instance_count,
        deadline_epoch_s=1,
        log_group=LOG_GROUPS[kind],
        record_uri="s3://b/r.json",
        staging_uri="s3://b/staging/",
        launched_at_epoch_s=1.0,
    )
    assert JobDocument.from_dict(json.loads(json.dumps(document.to_dict()))) == document


def test_a_flat_spec_with_an_unknown_field_is_refused():
    with pytest.raises(SpecError, match=r"unknown fields \['volume_gb'\]"):
        flat_spec_from_dict(EndpointSpec, flat_spec_to_dict(ENDPOINT) | {"volume_gb": 30})


def test_a_processing_document_survives_its_json_exactly() -> None:
    from ml_lifecycle.core.ec2.spec_documents import JobDocument
    from ml_lifecycle.core.processing_spec import ProcessingSpec

    spec = ProcessingSpec.build(
        image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/split:1",
        records_uri="s3://bucket/records",
        inputs=[{"name": "raw", "source": "s3://bucket/raw", "local_path": "/opt/ml/processing/input"}],
        outputs=[{"name": "train", "local_path": "/opt/ml/processing/train", "destination": "s3://bucket/train"}],
        arguments=["--validation-fraction", "0.2"],
        instance_count=2,
    )
    document = JobDocument(
        job_name="job",
        kind="processing",
        spec=spec,
        region="us-east-1",
        instance_count=2,
        deadline_epoch_s=1,
        log_group="/aws/ml-lifecycle/ProcessingJobs",
        record_uri="s3://bucket/records/job/status.json",
        staging_uri="s3://bucket/records/job/staging",
        launched_at_epoch_s=0.0,
    )
    assert JobDocument.from_dict(json.loads(json.dumps(document.to_dict()))) == document
