"""The Amazon provider's SageMakerProcessingOperator, SageMakerTuningOperator and their sensors, unchanged, against
our API: on a tuning config the SDK's sagemaker.workflow.airflow.tuning_config made, and on configs written by hand."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest
from conftest import airflow_environment, dag_test
from support.api_server import api_client, processing_request, tuning_request
from support.sdk import run_scenario

pytestmark = [pytest.mark.docker, pytest.mark.airflow_e2e]


def test_the_providers_processing_and_tuning_operators_and_sensors_run_their_jobs_to_completion(
    tmp_path, api_url, moto_server, s3, curve_image, processing_image
):
    s3.put_object(Bucket="ml-bucket", Key="data/curve/x.csv", Body=b"1\n")
    s3.put_object(Bucket="ml-bucket", Key="raw/rows.csv", Body="".join(f"{i},1\n" for i in range(50)).encode())
    suffix = uuid.uuid4().hex[:8]
    sdk_tuning = run_scenario(
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
    configs = {
        "processing": processing_request(f"prov-process-{suffix}", processing_image),
        "processing_async": processing_request(f"prov-process-async-{suffix}", processing_image),
        "tuning_sdk": sdk_tuning,
        "tuning": tuning_request(f"prov-tune-{suffix}", curve_image),
    }
    (tmp_path / "configs.json").write_text(json.dumps(configs))
    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy(Path(__file__).with_name("tuning_processing_dag.py"), dags / "tuning_processing_dag.py")
    env = {**airflow_environment(tmp_path, dags, api_url, moto_server), "JOB_CONFIGS": str(tmp_path / "configs.json")}

    dag_test("provider_tuning_processing", env, tmp_path / "airflow.log")

    sagemaker = api_client("sagemaker", api_url)
    for name in (f"prov-process-{suffix}", f"prov-process-async-{suffix}"):
        assert sagemaker.describe_processing_job(ProcessingJobName=name)["ProcessingJobStatus"] == "Completed"
        assert s3.list_objects_v2(Bucket="ml-bucket", Prefix=f"split/{name}/train/")["KeyCount"] == 1
    for name in (f"prov-sdk-tune-{suffix}", f"prov-tune-{suffix}"):
        described = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        assert described["HyperParameterTuningJobStatus"] == "Completed"
        assert described["TrainingJobStatusCounters"]["Completed"] == 3
