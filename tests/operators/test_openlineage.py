"""Our job operators report what they read and wrote to OpenLineage through the OpenLineage provider's own
extractor, as the Amazon provider's SageMaker operators do."""

from __future__ import annotations

import pytest
from airflow.providers.openlineage.extractors.base import DefaultExtractor
from support.helpers import task_context

from ml_lifecycle import BatchTransformOperator, TrainOnEC2Operator

pytestmark = pytest.mark.docker


def _datasets(lineage):
    """Return (inputs, outputs) as (namespace, name) pairs.

    :param lineage: an OperatorLineage.
    """
    return (
        sorted((d.namespace, d.name) for d in lineage.inputs),
        sorted((d.namespace, d.name) for d in lineage.outputs),
    )


def test_training_then_transform_report_their_datasets(example_image, sample_data, tmp_path, ml_home):
    train = TrainOnEC2Operator(
        task_id="train",
        image_uri=example_image,
        channels={"train": f"file://{sample_data}/train"},
        output_path=f"file://{tmp_path}/out",
    )
    trained = train.execute(task_context(task_id="train"))
    inputs, outputs = _datasets(DefaultExtractor(train).extract_on_complete(None))
    assert inputs == [("file", f"{sample_data}/train")]
    assert outputs == [("file", trained["model_uri"][len("file://") :])]

    transform = BatchTransformOperator(
        task_id="transform",
        image_uri=example_image,
        model_uri=trained["model_uri"],
        input_uri=f"file://{sample_data}/score",
        output_uri=f"file://{tmp_path}/predictions",
        content_type="text/csv",
        split_type="Line",
    )
    transform.execute(task_context(task_id="transform"))
    inputs, outputs = _datasets(DefaultExtractor(transform).extract_on_complete(None))
    assert inputs == sorted([("file", f"{sample_data}/score"), ("file", trained["model_uri"][len("file://") :])])
    assert outputs == [("file", f"{tmp_path}/predictions")]


def test_an_operator_that_did_not_complete_reports_no_datasets(example_image, sample_data, tmp_path):
    never_ran = TrainOnEC2Operator(
        task_id="train",
        image_uri=example_image,
        channels={"train": f"file://{sample_data}/train"},
        output_path=f"file://{tmp_path}",
    )
    assert _datasets(DefaultExtractor(never_ran).extract_on_complete(None)) == ([], [])
