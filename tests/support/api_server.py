"""Our SageMaker-compatible API served for a test (uvicorn in a thread), and checks that its answers are what
botocore's service model says they are."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from botocore.model import Shape
from botocore.validate import ParamValidator

from support.moto import free_port

API_KEY, API_SECRET = "AKIDSAGEMAKERAPI", "secret-of-the-sagemaker-api"
ROLE_ARN = "arn:aws:iam::000000000000:role/SageMakerRole"  # the execution role the tests' API lets callers pass
CREDENTIALS_CONNECTION = json.dumps({"conn_type": "generic", "login": API_KEY, "password": API_SECRET})


@contextmanager
def serving(app: Any, port: int) -> Iterator[str]:
    """Serve an ASGI app on 127.0.0.1:port in a thread; yield its URL.

    :param app: the app.
    :param port: a free port.
    """
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="sagemaker-api", daemon=True)
    thread.start()
    deadline_s = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline_s or not thread.is_alive():
            raise RuntimeError("the API server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def undeclared_fields(value: Any, shape: Shape, path: str = "") -> list[str]:
    """Return the paths of fields in a raw JSON answer that its botocore shape does not declare (botocore's parser
    drops them silently, so they are checked on the raw answer).

    :param value: the raw JSON value.
    :param shape: its shape.
    :param path: where the value is.
    """
    if shape.type_name == "structure" and isinstance(value, dict):
        found = []
        for key, item in value.items():
            if key not in shape.members:
                found.append(f"{path}.{key}".lstrip("."))
            else:
                found += undeclared_fields(item, shape.members[key], f"{path}.{key}")
        return found
    if shape.type_name == "list" and isinstance(value, list):
        return [p for i, item in enumerate(value) for p in undeclared_fields(item, shape.member, f"{path}[{i}]")]
    if shape.type_name == "map" and isinstance(value, dict):
        return [p for k, item in value.items() for p in undeclared_fields(item, shape.value, f"{path}.{k}")]
    return []


class ShapeChecker:
    """Checks every answer a boto3 client gets: no field its operation's output shape lacks (on the raw JSON), and
    required members present with the declared types (botocore's validator, on the parsed answer).

    :param client: the boto3 client to watch.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.checked: list[str] = []
        self.problems: list[str] = []
        client.meta.events.register("after-call", self._check)

    def _check(self, http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        """Check one answer.

        :param http_response: the raw HTTP response.
        :param parsed: what botocore parsed.
        :param model: the operation's model.
        """
        if http_response.status_code >= 300 or model.output_shape is None:
            return
        self.checked.append(model.name)
        if model.has_streaming_output:
            body = {k: v for k, v in parsed.items() if k != "ResponseMetadata"}
        else:
            raw = json.loads(http_response.content or b"{}")
            self.problems += [
                f"{model.name}: {p} is not in the model" for p in undeclared_fields(raw, model.output_shape)
            ]
            body = {k: v for k, v in parsed.items() if k != "ResponseMetadata"}
        report = ParamValidator().validate(body, model.output_shape)
        if report.has_errors():
            self.problems.append(f"{model.name}: {report.generate_report()}")


def api_client(service: str, url: str, secret: str = API_SECRET) -> Any:
    """Return a boto3 client of our API, signed with the API's key (or another secret).

    :param service: ``sagemaker``, ``sagemaker-runtime`` or ``logs``.
    :param url: the API's URL.
    :param secret: the secret to sign with.
    """
    import boto3

    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=API_KEY,
        aws_secret_access_key=secret,
    )


def training_request(name: str, image: str, **changes: Any) -> dict[str, Any]:
    """Return a CreateTrainingJob request as a SageMaker user writes it.

    :param name: the job's name.
    :param image: the training image.
    :param changes: fields to replace.
    """
    request = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "RoleArn": ROLE_ARN,
        "HyperParameters": {"l2": "0.1"},
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": "s3://ml-bucket/data/train",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
                "ContentType": "text/csv",
            }
        ],
        "OutputDataConfig": {"S3OutputPath": "s3://ml-bucket/training"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        "Tags": [{"Key": "team", "Value": "ml"}],
    }
    request.update(changes)
    return request


TUNING_LOSS = [{"Name": "loss", "Regex": r"loss=([0-9.]+)"}]


def tuning_request(name: str, image: str, **config: Any) -> dict[str, Any]:
    """Return a CreateHyperParameterTuningJob request as the provider's tuning config or the SDK writes it.

    :param name: the tuning job's name.
    :param image: the curve image.
    :param config: HyperParameterTuningJobConfig fields to replace.
    """
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Grid",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {"CategoricalParameterRanges": [{"Name": "opt", "Values": ["a", "b", "c"]}]},
            "TrainingJobEarlyStoppingType": "Off",
            **config,
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {"epochs": "3", "step_s": "0.2"},
            "AlgorithmSpecification": {
                "TrainingImage": image,
                "TrainingInputMode": "File",
                "MetricDefinitions": TUNING_LOSS,
            },
            "RoleArn": ROLE_ARN,
            "InputDataConfig": [
                {
                    "ChannelName": "train",
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://ml-bucket/data/curve"}},
                }
            ],
            "OutputDataConfig": {"S3OutputPath": "s3://ml-bucket/tuning"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
            "StoppingCondition": {"MaxRuntimeInSeconds": 300},
        },
        "Tags": [{"Key": "team", "Value": "ml"}],
    }


def processing_request(name: str, image: str) -> dict[str, Any]:
    """Return a CreateProcessingJob request as the provider's config or the SDK writes it: the split example over
    s3://ml-bucket/raw, its train and validation folders uploaded under s3://ml-bucket/split/<name>/.

    :param name: the job's name.
    :param image: the split image.
    """
    return {
        "ProcessingJobName": name,
        "ProcessingInputs": [
            {
                "InputName": "raw",
                "AppManaged": False,
                "S3Input": {
                    "S3Uri": "s3://ml-bucket/raw",
                    "LocalPath": "/opt/ml/processing/input",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                    "S3DataDistributionType": "FullyReplicated",
                    "S3CompressionType": "None",
                },
            }
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": part,
                    "AppManaged": False,
                    "S3Output": {
                        "S3Uri": f"s3://ml-bucket/split/{name}/{part}",
                        "LocalPath": f"/opt/ml/processing/{part}",
                        "S3UploadMode": "EndOfJob",
                    },
                }
                for part in ("train", "validation")
            ]
        },
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10}
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 300},
        "AppSpecification": {"ImageUri": image, "ContainerArguments": ["--validation-fraction", "0.25"]},
        "RoleArn": ROLE_ARN,
        "Tags": [{"Key": "team", "Value": "ml"}],
    }


@pytest.fixture
def api_url(s3: Any, ml_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Our API on the local engine, its state in moto's S3, accepting the key of the ``sagemaker_api`` connection."""
    from ml_lifecycle.api_server.app import create_app
    from ml_lifecycle.api_server.config import ApiConfig

    monkeypatch.setenv("AIRFLOW_CONN_SAGEMAKER_API", CREDENTIALS_CONNECTION)
    config = ApiConfig(
        compute="local",
        aws_conn_id="aws_default",
        credentials_conn_id="sagemaker_api",
        state_root="s3://ml-bucket/sagemaker-api",
        region="us-east-1",
        account_id="000000000000",
        backend_options={"poll_interval_s": 0.5},
        allowed_role_arns=(ROLE_ARN,),
    )
    with serving(create_app(config), free_port()) as url:
        yield url
