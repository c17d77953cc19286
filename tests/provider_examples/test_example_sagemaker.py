"""The Amazon provider's system-test DAG example_sagemaker.py (processing with its sensor and output files, training,
model, tuning and transform, each operator once with its sensor, and its boto3 calls) runs end to end against our
API on the local engine, with S3, ECR and STS in moto. What is replaced or removed, and why:
example_sagemaker_text.py."""

from __future__ import annotations

import uuid

import pytest
from conftest import airflow_environment, dag_test, dags_folder
from example_sagemaker_text import NAME, example_sagemaker_text
from support.api_server import api_client

pytestmark = [pytest.mark.docker, pytest.mark.airflow_e2e]


def test_example_sagemaker_runs_end_to_end(tmp_path, api_url, moto_server, knn_image, pandas_image):
    env_id = f"mlc{uuid.uuid4().hex[:8]}"
    dags = dags_folder(tmp_path, NAME, example_sagemaker_text(knn_image, pandas_image))
    env = {
        **airflow_environment(tmp_path, dags, api_url, moto_server),
        "AWS_ENDPOINT_URL_ECR": moto_server,
        "AWS_ENDPOINT_URL_STS": moto_server,
        "SYSTEM_TESTS_ENV_ID": env_id,
        "ROLE_ARN": "arn:aws:iam::000000000000:role/SageMakerRole",
    }

    dag_test("example_sagemaker", env, tmp_path / "airflow.log")

    sagemaker = api_client("sagemaker", api_url)
    processing = sagemaker.list_processing_jobs(NameContains=f"{env_id}-processing")["ProcessingJobSummaries"]
    assert sorted(p["ProcessingJobStatus"] for p in processing) == ["Completed", "Completed"]
    training = sagemaker.describe_training_job(TrainingJobName=f"{env_id}-train")
    assert training["TrainingJobStatus"] == "Completed"
    # The DAG deleted the bucket its tuning job's state and trials' records lived in: the API kept them.
    tuning = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=f"{env_id}-tune")
    assert tuning["HyperParameterTuningJobStatus"] == "Completed"
    best = tuning["BestTrainingJob"]["TrainingJobName"]
    assert sagemaker.describe_training_job(TrainingJobName=best)["TrainingJobStatus"] == "Completed"
    transform = sagemaker.describe_transform_job(TransformJobName=f"{env_id}-transform")
    assert transform["TransformJobStatus"] == "Completed"
    # Its teardown ran through the API too: the model is gone.
    assert sagemaker.list_models(NameContains=env_id)["Models"] == []
