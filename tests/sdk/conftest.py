"""Fixtures for the SageMaker Python SDK against our API: moto's S3, our API on the local engine."""

from support.api_server import api_url  # noqa: F401
from support.moto import moto_server, s3  # noqa: F401
