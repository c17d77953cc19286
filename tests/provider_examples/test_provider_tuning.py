"""The Amazon provider's SageMakerTuningOperator and SageMakerTuningSensor, unchanged, against our API: on a config
the SDK's sagemaker.workflow.airflow.tuning_config made, and on one written by hand."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest
from conftest import airflow_environment, dag_test
from support.api_server import api_client, tuning_request
from support.sdk import run_scenario

pytestmark = [pytest.mark.docker, pytest.mark.airflow_e2e]


def test_the_providers_tuning_operator_and_sensor_run_tuning_jobs_to_completion(
    tmp_path, api_url, moto_server, s3, curve_image
):
    s3.put_object(Bucket="ml-bucket", Key="data/curve/x.csv", Body=b"1\n")
    suffix = uuid.uuid4().hex[:8]
    sdk_config = run_scenario(
        "tuning_config",
        {
            "image": curve_image,
            "role": "arn:aws:iam::000000000000:role/SageMakerRole",
            "output_path": "s3://ml-bucket/provider-tuning",
            "train_uri": "s3://ml-bucket/data/curve",
            "job_name": f"prov-sdk-tune-{suffix}",
        },
        api_url,
        moto_server,
        tmp_path,
    )
    hand_config = tuning_request(f"prov-tune-{suffix}", curve_image)
    (tmp_path / "configs.json").write_text(json.dumps({"sdk": sdk_config, "hand": hand_config}))
    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy(Path(__file__).with_name("tuning_dag.py"), dags / "tuning_dag.py")
    env = {
        **airflow_environment(tmp_path, dags, api_url, moto_server),
        "TUNING_CONFIGS": str(tmp_path / "configs.json"),
    }

    dag_test("provider_tuning", env, tmp_path / "airflow.log")

    sagemaker = api_client("sagemaker", api_url)
    for name, trials in ((f"prov-sdk-tune-{suffix}", 3), (f"prov-tune-{suffix}", 3)):
        described = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        assert described["HyperParameterTuningJobStatus"] == "Completed"
        assert described["TrainingJobStatusCounters"]["Completed"] == trials
