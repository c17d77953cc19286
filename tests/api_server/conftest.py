"""Fixtures for the SageMaker-compatible API: moto for S3 (and STS), our API on a free port, boto3 clients of it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support.api_server import ShapeChecker, api_client, api_url  # noqa: F401
from support.ec2_fixtures import aws, emulator, pushed_image  # noqa: F401
from support.moto import moto_server, s3  # noqa: F401


@pytest.fixture
def sagemaker(api_url: str) -> Iterator[Any]:  # noqa: F811
    """A boto3 SageMaker client of our API; every answer it gets is checked against botocore's service model."""
    client = api_client("sagemaker", api_url)
    client.shape_checker = checker = ShapeChecker(client)
    yield client
    assert not checker.problems, "\n".join(checker.problems)
