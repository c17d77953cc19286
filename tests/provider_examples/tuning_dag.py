"""Tuning as Amazon provider users write it: SageMakerTuningOperator waiting for its job (on a config the SDK's
sagemaker.workflow.airflow.tuning_config made), and SageMakerTuningOperator without waiting, followed by
SageMakerTuningSensor (on a hand-written config). The configs are read from the JSON file TUNING_CONFIGS names."""

from __future__ import annotations

import json
import os
from datetime import datetime

from airflow.providers.amazon.aws.operators.sagemaker import SageMakerTuningOperator
from airflow.providers.amazon.aws.sensors.sagemaker import SageMakerTuningSensor
from airflow.sdk import DAG

with open(os.environ["TUNING_CONFIGS"]) as configs_file:
    CONFIGS = json.load(configs_file)

with DAG("provider_tuning", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
    SageMakerTuningOperator(task_id="tune_from_sdk_config", config=CONFIGS["sdk"], check_interval=2)
    start_tuning = SageMakerTuningOperator(task_id="start_tuning", config=CONFIGS["hand"], wait_for_completion=False)
    wait_for_tuning = SageMakerTuningSensor(
        task_id="wait_for_tuning", job_name=CONFIGS["hand"]["HyperParameterTuningJobName"], poke_interval=2
    )
    start_tuning >> wait_for_tuning
