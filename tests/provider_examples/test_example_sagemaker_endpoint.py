"""The Amazon provider's system-test DAG example_sagemaker_endpoint.py, its operators, sensor and boto3 calls
unchanged, runs end to end against our API on the local engine, with S3 in moto. Replaced: its closed-source k-NN
image (by the open one in examples/containers/knn) and its test-harness imports (by tests/provider_examples/harness.py).
"""

from __future__ import annotations

import uuid

import pytest
from conftest import airflow_environment, dag_test, dags_folder
from support.api_server import api_client
from support.provider_examples import HARNESS_IMPORTS, provider_example, with_replacements

pytestmark = [pytest.mark.docker, pytest.mark.airflow_e2e]


def test_example_sagemaker_endpoint_runs_end_to_end(tmp_path, api_url, moto_server, knn_image, docker_client):
    text = with_replacements(
        provider_example("example_sagemaker_endpoint.py"),
        {
            **HARNESS_IMPORTS,
            '"us-east-1": "382416733822.dkr.ecr.us-east-1.amazonaws.com/knn:1"': f'"us-east-1": "{knn_image}"',
        },
    )
    env_id = f"mlc{uuid.uuid4().hex[:8]}"
    env = {
        **airflow_environment(
            tmp_path, dags_folder(tmp_path, "example_sagemaker_endpoint.py", text), api_url, moto_server
        ),
        "SYSTEM_TESTS_ENV_ID": env_id,
        "ROLE_ARN": "arn:aws:iam::000000000000:role/SageMakerRole",
    }

    dag_test("example_sagemaker_endpoint", env, tmp_path / "airflow.log")

    sagemaker = api_client("sagemaker", api_url)
    training = sagemaker.describe_training_job(TrainingJobName=f"{env_id}-train")
    assert training["TrainingJobStatus"] == "Completed"
    # Its teardown ran through the API too: the endpoint, its config and the model are gone, and so are containers.
    assert sagemaker.list_endpoints(NameContains=env_id)["Endpoints"] == []
    assert sagemaker.list_models(NameContains=env_id)["Models"] == []
    assert not docker_client.containers.list(all=True, filters={"label": f"ml-lifecycle.endpoint={env_id}-endpoint"})
