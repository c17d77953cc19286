"""Configs made by the SageMaker SDK's sagemaker.workflow.airflow functions (training_config,
transform_config_from_estimator, deploy_config_from_estimator) run through the Amazon provider's operators against
our API, templated XCom references and all."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest
from conftest import airflow_environment, dag_test
from support.api_server import api_client
from support.sdk import run_scenario

pytestmark = [pytest.mark.docker, pytest.mark.airflow_e2e]


def test_sdk_workflow_configs_run_through_the_providers_operators(
    tmp_path, api_url, moto_server, s3, example_image, sample_data, docker_client
):
    for part in ("train", "score"):
        for path in sorted((sample_data / part).iterdir()):
            s3.upload_file(str(path), "ml-bucket", f"data/{part}/{path.name}")
    suffix = uuid.uuid4().hex[:8]
    configs = run_scenario(
        "airflow_configs",
        {
            "image": example_image,
            "role": "arn:aws:iam::000000000000:role/SageMakerRole",
            "output_path": "s3://ml-bucket/sdk-output",
            "train_uri": "s3://ml-bucket/data/train",
            "score_uri": "s3://ml-bucket/data/score",
            "transform_output": f"s3://ml-bucket/sdk-predictions/{suffix}",
            "job_name": f"sdk-wf-train-{suffix}",
            "transform_job_name": f"sdk-wf-transform-{suffix}",
            "model_name": f"sdk-wf-model-{suffix}",
            "endpoint_model_name": f"sdk-wf-endpoint-model-{suffix}",
            "endpoint_name": f"sdk-wf-endpoint-{suffix}",
        },
        api_url,
        moto_server,
        tmp_path,
    )
    (tmp_path / "configs.json").write_text(json.dumps(configs))
    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy(Path(__file__).with_name("sdk_workflow_dag.py"), dags / "sdk_workflow_dag.py")
    row = (sample_data / "score" / "score.csv").read_text().splitlines()[0]
    env = {
        **airflow_environment(tmp_path, dags, api_url, moto_server),
        "SDK_CONFIGS": str(tmp_path / "configs.json"),
        "ROW": row,
    }

    dag_test("sdk_workflow_configs", env, tmp_path / "airflow.log")

    sagemaker = api_client("sagemaker", api_url)
    assert sagemaker.describe_training_job(TrainingJobName=f"sdk-wf-train-{suffix}")["TrainingJobStatus"] == "Completed"
    transform = sagemaker.describe_transform_job(TransformJobName=f"sdk-wf-transform-{suffix}")
    assert transform["TransformJobStatus"] == "Completed"
    assert s3.list_objects_v2(Bucket="ml-bucket", Prefix=f"sdk-predictions/{suffix}/")["KeyCount"] >= 1
    assert not docker_client.containers.list(
        all=True, filters={"label": f"ml-lifecycle.endpoint=sdk-wf-endpoint-{suffix}"}
    )
