"""Fixtures for the fault suite: a moto server for the AWS APIs."""

from support.moto import moto_server  # noqa: F401
