"""Fixtures for the operator side of EC2 against a moto server."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import boto3
import pytest
from support.ec2_endpoints import cloud  # noqa: F401
from support.moto import moto_server  # noqa: F401

from ml_lifecycle.compute.ec2.fleet import Ec2Fleet

REGION = "us-east-1"


@pytest.fixture
def aws(moto_server: str) -> Iterator[SimpleNamespace]:  # noqa: F811
    """boto3 clients on moto and a fleet built from them; every instance left by the test is terminated after it."""
    clients = {
        name: boto3.client(name, endpoint_url=moto_server, region_name=REGION) for name in ("ec2", "ssm", "iam", "logs")
    }
    fleet = Ec2Fleet(lambda: clients["ec2"], lambda: clients["ssm"], lambda: clients["iam"])
    yield SimpleNamespace(fleet=fleet, **clients)
    running = fleet.find({"ml-lifecycle.managed": "true"})
    fleet.terminate([i["InstanceId"] for i in running])
