"""A DAG as SageMaker SDK users write one: the configs of sagemaker.workflow.airflow (read from the JSON file
SDK_CONFIGS names) run by the Amazon provider's operators, then a plain boto3 call of the endpoint."""

from __future__ import annotations

import json
import os
from datetime import datetime

import boto3
from airflow.providers.amazon.aws.operators.sagemaker import (
    SageMakerEndpointOperator,
    SageMakerTrainingOperator,
    SageMakerTransformOperator,
)
from airflow.sdk import DAG, task

with open(os.environ["SDK_CONFIGS"]) as configs_file:
    CONFIGS = json.load(configs_file)

with DAG("sdk_workflow_configs", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
    train = SageMakerTrainingOperator(task_id="train", config=CONFIGS["training"], check_interval=2)
    transform = SageMakerTransformOperator(task_id="transform", config=CONFIGS["transform"], check_interval=2)
    deploy = SageMakerEndpointOperator(task_id="deploy", config=CONFIGS["deploy"], check_interval=2)

    @task
    def predict_then_delete(endpoint_name: str, row: str) -> str:
        runtime, sagemaker = boto3.client("sagemaker-runtime"), boto3.client("sagemaker")
        try:
            answer = runtime.invoke_endpoint(EndpointName=endpoint_name, Body=row, ContentType="text/csv")
            return answer["Body"].read().decode()
        finally:
            sagemaker.delete_endpoint(EndpointName=endpoint_name)

    (
        train
        >> transform
        >> deploy
        >> predict_then_delete(CONFIGS["deploy"]["Endpoint"]["EndpointName"], os.environ["ROW"])
    )
