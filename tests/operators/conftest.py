"""Fixtures for operator tests: a moto server for the AWS APIs, and S3 on it through aws_default."""

from support.moto import moto_server, s3  # noqa: F401
