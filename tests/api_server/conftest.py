"""Fixtures for the SageMaker-compatible API: moto for S3 (and STS), our API on a free port, boto3 clients of it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.api_server import CREDENTIALS_CONNECTION, ShapeChecker, api_client, serving
from support.moto import free_port, moto_server, s3  # noqa: F401


@pytest.fixture
def api_url(s3: Any, ml_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:  # noqa: F811
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
    )
    with serving(create_app(config), free_port()) as url:
        yield url


@pytest.fixture
def sagemaker(api_url: str) -> Iterator[Any]:
    """A boto3 SageMaker client of our API; every answer it gets is checked against botocore's service model."""
    client = api_client("sagemaker", api_url)
    client.shape_checker = checker = ShapeChecker(client)
    yield client
    assert not checker.problems, "\n".join(checker.problems)
