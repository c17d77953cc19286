"""The AWS clients the EC2 backend works with, built once from the Airflow AWS connection."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from ml_lifecycle import settings
from ml_lifecycle.aws_clients import client_factory
from ml_lifecycle.compute.ec2.agent_bundle import build_agent_bundle
from ml_lifecycle.compute.ec2.fleet import Ec2Fleet
from ml_lifecycle.compute.ec2.job_common import Ec2JobClients
from ml_lifecycle.stores import StoreFor, store_factory


class Ec2Clients:
    """Lazily built clients of one AWS connection: EC2 (as a fleet), SSM, IAM, Logs, ELBv2, CloudWatch and S3.

    :param aws_conn_id: the Airflow AWS connection.
    """

    def __init__(self, aws_conn_id: str | None) -> None:
        self.aws_conn_id = aws_conn_id

    def client(self, service: str) -> Any:
        """Return a factory of one service's client.

        :param service: the boto3 service name.
        """
        return client_factory(service, self.aws_conn_id)

    @cached_property
    def fleet(self) -> Ec2Fleet:
        """The instances' launches, lookups and terminations."""
        return Ec2Fleet(self.client("ec2"), self.client("ssm"), self.client("iam"))

    @cached_property
    def store_for(self) -> StoreFor:
        """Returns the store for a URI."""
        return store_factory(self.aws_conn_id)

    @cached_property
    def region(self) -> str:
        """The connection's region."""
        return str(self.client("ec2")().meta.region_name)

    def jobs(self) -> Ec2JobClients:
        """Return what every EC2 job runner stages, launches and watches with."""
        return Ec2JobClients(
            store_for=self.store_for,
            fleet=self.fleet,
            logs=self.client("logs"),
            region=lambda: self.region,
            bundle=agent_bundle,
        )


def agent_bundle() -> Any:
    """Return the agent bundle's path (built once per content and cached under ML_LIFECYCLE_HOME)."""
    return build_agent_bundle(settings.home_dir() / "cache" / "agent")
