"""Fixtures for the Amazon provider's system-test DAGs run against our API: moto's S3, our API, the open images."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.api_server import API_KEY, API_SECRET, api_url  # noqa: F401
from support.moto import moto_server, s3  # noqa: F401

REPO_ROOT = Path(__file__).resolve().parents[2]
KNN_IMAGE = "ml-lifecycle-test/knn:test"
PANDAS_IMAGE = "ml-lifecycle-test/pandas:test"


@pytest.fixture(scope="session")
def knn_image(docker_client: Any) -> str:
    """The open k-NN image that stands in for SageMaker's built-in one (examples/containers/knn)."""
    base = os.environ.get("BASE_IMAGE", "python:3.11-slim")
    docker_client.images.build(
        path=str(REPO_ROOT / "examples" / "containers" / "knn"), tag=KNN_IMAGE, buildargs={"BASE_IMAGE": base}, rm=True
    )
    return KNN_IMAGE


@pytest.fixture(scope="session")
def pandas_image(docker_client: Any) -> str:
    """The base of example_sagemaker.py's processing image: python3, numpy and pandas from Debian's packages."""
    from example_sagemaker_text import PROCESSING_BASE_DOCKERFILE

    base = os.environ.get("BASE_IMAGE", "python:3.11-slim")
    dockerfile = io.BytesIO(PROCESSING_BASE_DOCKERFILE.encode())
    docker_client.images.build(fileobj=dockerfile, tag=PANDAS_IMAGE, buildargs={"BASE_IMAGE": base}, rm=True)
    return PANDAS_IMAGE


def airflow_environment(tmp_path: Path, dags: Path, api_url: str, moto_url: str) -> dict[str, str]:  # noqa: F811
    """Return the environment of an Airflow pointed at our API, as a user points theirs: the AWS connection's
    ``service_config`` per service, and the service endpoint variables plain boto3 reads.

    :param tmp_path: where Airflow's home goes.
    :param dags: the DAGs folder.
    :param api_url: our API's URL.
    :param moto_url: moto's URL (S3).
    """
    services = {"s3": moto_url, "sagemaker": api_url, "sagemaker-runtime": api_url, "logs": api_url}
    connection = {
        "conn_type": "aws",
        "login": API_KEY,
        "password": API_SECRET,
        "extra": {"region_name": "us-east-1", "service_config": {s: {"endpoint_url": u} for s, u in services.items()}},
    }
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AIRFLOW_CONN_"))}
    config = tmp_path / "airflow" / "config"  # on Airflow's sys.path: its airflow_local_settings.py is read
    config.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(__file__).with_name("quick_polls_policy.py"), config / "airflow_local_settings.py")
    return {
        **environment,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(connection),
        "AWS_ACCESS_KEY_ID": API_KEY,
        "AWS_SECRET_ACCESS_KEY": API_SECRET,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_S3": moto_url,
        "AWS_ENDPOINT_URL_SAGEMAKER": api_url,
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": api_url,
        "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": api_url,
    }


def dags_folder(tmp_path: Path, name: str, text: str) -> Path:
    """Return a DAGs folder holding one DAG file and the harness it imports.

    :param tmp_path: where the folder goes.
    :param name: the DAG file's name.
    :param text: its text.
    """
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / name).write_text(text)
    shutil.copy(Path(__file__).with_name("harness.py"), dags / "harness.py")
    return dags


def airflow(args: list[str], env: dict[str, str], log: Path) -> int:
    """Run this environment's airflow CLI; return its exit code (its output goes to log).

    :param args: the arguments.
    :param env: the environment.
    :param log: the output file.
    """
    command = [str(Path(sys.executable).with_name("airflow")), *args]
    with log.open("ab") as out:
        return subprocess.run(command, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=1200).returncode


def dag_test(dag_id: str, env: dict[str, str], log: Path) -> str:
    """Migrate this environment's metadata database, run ``airflow dags test`` of a DAG, check that it succeeded, and
    return the output.

    :param dag_id: the DAG.
    :param env: the environment.
    :param log: the output file.
    """
    assert airflow(["db", "migrate"], env, log) == 0, log.read_text()[-3000:]
    code = airflow(["dags", "test", dag_id], env, log)
    output = log.read_text()
    assert code == 0 and "state=success" in output, output[-8000:]
    return output
