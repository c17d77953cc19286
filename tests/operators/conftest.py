"""Fixtures for operator tests: a moto server for the AWS APIs, and S3 on it through aws_default."""

from typing import Any

import boto3
import pytest
from support.moto import aws_connection, moto_server  # noqa: F401


@pytest.fixture
def s3(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Any:  # noqa: F811
    """A boto3 S3 client on the moto server with a bucket ml-bucket, and aws_default pointing there too."""
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", aws_connection(moto_server))
    client = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    client.create_bucket(Bucket="ml-bucket")
    return client
