"""The rewrites of example_sagemaker.py change only what they name: the text still compiles; every processing,
training, model, tuning and transform operator and sensor, and every boto3 call, is the provider's, as often as
there; the AutoML, experiment and model-package tasks are gone from the DAG; no closed image or ECR login is left."""

from __future__ import annotations

import re

from example_sagemaker_text import NAME, example_sagemaker_text
from support.provider_examples import provider_example

KEPT = (
    "SageMakerProcessingOperator(",
    "SageMakerProcessingSensor(",
    "SageMakerTrainingOperator(",
    "SageMakerTrainingSensor(",
    "SageMakerModelOperator(",
    "SageMakerTuningOperator(",
    "SageMakerTuningSensor(",
    "SageMakerTransformOperator(",
    "SageMakerTransformSensor(",
    "SageMakerDeleteModelOperator(",
    "boto3.client(",
    "_config = {",
    "output_files_to_xcom",
)
REMOVED = ("SageMakerAutoMLOperator(", "SageMakerAutoMLSensor(", "SageMakerCreateExperimentOperator(")
GONE = ("382416733822", "amazonlinux", "get-login-password", "docker push", "tests_common", "system.amazon")


def test_the_rewritten_dag_keeps_the_providers_steps_and_drops_only_what_is_named():
    original = provider_example(NAME)
    text = example_sagemaker_text("ml-lifecycle-test/knn:test", "ml-lifecycle-test/pandas:test")
    compile(text, NAME, "exec")
    assert {k: text.count(k) for k in KEPT} == {k: original.count(k) for k in KEPT}
    assert all(original.count(r) == 1 and r not in text for r in REMOVED)
    assert "SageMakerRegisterModelVersionOperator(" not in text
    assert [g for g in GONE if g in text] == []
    chain = text[text.index("    chain(") : text.index("    from harness import watcher")]
    assert not re.search(r"automl|experiment|register_model|model_group", chain)
