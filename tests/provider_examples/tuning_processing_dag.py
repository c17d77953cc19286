"""Processing and tuning as Amazon provider users write them: each operator once waiting for its job and once
handing the wait to its sensor. The tuning config that waits was made by the SDK's
sagemaker.workflow.airflow.tuning_config; the others are written by hand. The configs are read from the JSON file
JOB_CONFIGS names."""

from __future__ import annotations

import json
import os
from datetime import datetime

from airflow.providers.amazon.aws.operators.sagemaker import SageMakerProcessingOperator, SageMakerTuningOperator
from airflow.providers.amazon.aws.sensors.sagemaker import SageMakerProcessingSensor, SageMakerTuningSensor
from airflow.sdk import DAG

with open(os.environ["JOB_CONFIGS"]) as configs_file:
    CONFIGS = json.load(configs_file)

with DAG("provider_tuning_processing", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
    process = SageMakerProcessingOperator(task_id="process", config=CONFIGS["processing"], check_interval=2)
    start_processing = SageMakerProcessingOperator(
        task_id="start_processing", config=CONFIGS["processing_async"], wait_for_completion=False
    )
    wait_for_processing = SageMakerProcessingSensor(
        task_id="wait_for_processing", job_name=CONFIGS["processing_async"]["ProcessingJobName"], poke_interval=2
    )
    tune_from_sdk_config = SageMakerTuningOperator(
        task_id="tune_from_sdk_config", config=CONFIGS["tuning_sdk"], check_interval=2
    )
    start_tuning = SageMakerTuningOperator(task_id="start_tuning", config=CONFIGS["tuning"], wait_for_completion=False)
    wait_for_tuning = SageMakerTuningSensor(
        task_id="wait_for_tuning", job_name=CONFIGS["tuning"]["HyperParameterTuningJobName"], poke_interval=2
    )
    # As in the lifecycle: processing before tuning.
    [process, start_processing >> wait_for_processing] >> tune_from_sdk_config
    start_tuning >> wait_for_tuning
