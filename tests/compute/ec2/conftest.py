"""Fixtures for the EC2 compute tests: a moto server for the AWS APIs."""

from support.moto import moto_server  # noqa: F401
