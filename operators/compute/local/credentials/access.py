"""What a local job's containers need to reach AWS like code on SageMaker: the role's credentials and the endpoint."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from ml_lifecycle.aws_clients import connection_endpoint_url, detached_client_factory
from ml_lifecycle.compute.base import LogSink
from ml_lifecycle.compute.local.credentials.role_session import RoleSession
from ml_lifecycle.compute.local.credentials.server import check_credentials_address, serving
from ml_lifecycle.core.roles import container_endpoint_url, session_name

S3_ENDPOINT_ENV = "AWS_ENDPOINT_URL_S3"  # read by every current AWS SDK (the service-specific endpoint setting)


@dataclass(frozen=True)
class ContainerAwsAccess:
    """A job's role session (None without a role) and the environment naming its S3-compatible endpoint.

    :param session: the role's session, its first credentials already assumed.
    :param endpoint_environment: AWS_ENDPOINT_URL_S3 when the connection names an endpoint, else empty.
    """

    session: RoleSession | None = None
    endpoint_environment: dict[str, str] = field(default_factory=dict)

    @contextlib.contextmanager
    def serving(self) -> Iterator[dict[str, str]]:
        """Serve the role's credentials while the block runs; yield what the containers' environment gets."""
        with serving(self.session.document if self.session else None) as credentials_environment:
            yield {**self.endpoint_environment, **credentials_environment}


def container_aws_access(
    role_arn: str | None,
    job_name: str,
    aws_conn_id: str | None,
    sink: LogSink,
    *,
    uses_s3: bool,
    gateway: str | None = None,
) -> ContainerAwsAccess:
    """Check, before anything starts, that the role can be assumed and served; return the job's access.

    :param role_arn: the execution role, or None.
    :param job_name: the job's name (the role session's).
    :param aws_conn_id: the Airflow AWS connection that assumes the role and names the endpoint.
    :param sink: the task log.
    :param uses_s3: the job reads or writes s3:// locations (then its containers are told the connection's endpoint
        too; a job on local files only never asks for the connection).
    :param gateway: the address containers reach this machine at; None asks the Docker engine when needed.
    """
    endpoint_environment = s3_endpoint_environment(aws_conn_id, gateway) if uses_s3 or role_arn else {}
    if not role_arn:
        return ContainerAwsAccess(None, endpoint_environment)
    check_credentials_address()
    session = RoleSession(detached_client_factory("sts", aws_conn_id), role_arn, session_name(job_name))
    session.document()  # assumed now: a role that cannot be assumed fails the task before anything starts
    sink(f"The containers get the credentials of {role_arn} (session {session.session_name}), renewed in time")
    return ContainerAwsAccess(session, endpoint_environment)


def s3_endpoint_environment(aws_conn_id: str | None, gateway: str | None = None) -> dict[str, str]:
    """Return AWS_ENDPOINT_URL_S3 for the connection's S3-compatible endpoint (MinIO, moto), as containers reach it.

    :param aws_conn_id: the Airflow AWS connection, or None.
    :param gateway: the address containers reach this machine at; None asks the Docker engine when needed.
    """
    if aws_conn_id is None:
        return {}
    endpoint_url = connection_endpoint_url("s3", aws_conn_id)
    if not endpoint_url:
        return {}
    if gateway is None and container_endpoint_url(endpoint_url, "gateway") != endpoint_url:
        from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine

        gateway = DockerEngine().bridge_gateway()
    return {S3_ENDPOINT_ENV: container_endpoint_url(endpoint_url, gateway or "")}
