"""Choose the registry a host names: Amazon ECR for ECR hosts (or none given), an OCI registry otherwise."""

from __future__ import annotations

from ml_lifecycle.registries.base import Registry
from ml_lifecycle.registries.credentials import credentials_from_connection
from ml_lifecycle.registries.ecr import ECR_HOST, EcrRegistry, RepositorySettings
from ml_lifecycle.registries.oci import OciRegistry

ECR = "ecr"


def registry_for(
    host: str | None,
    *,
    registry_conn_id: str | None = None,
    aws_conn_id: str | None = "aws_default",
    registry_id: str | None = None,
    settings: RepositorySettings | None = None,
) -> Registry:
    """Return the registry to talk to.

    :param host: None or ``ecr`` for the AWS connection's ECR, an ECR host (its account becomes the registry id),
        or any other ``host[:port]`` for an OCI registry.
    :param registry_conn_id: an Airflow connection with the OCI registry's login and password, or None.
    :param aws_conn_id: the Airflow AWS connection for ECR.
    :param registry_id: another account's ECR registry id, or None.
    :param settings: how ECR repositories created on push are configured.
    """
    host = (host or ECR).strip().removeprefix("https://").removeprefix("http://").rstrip("/")
    match = ECR_HOST.match(host)
    if host == ECR or match:
        from ml_lifecycle.aws_clients import client_factory

        account = registry_id or (match.group("account") if match else None)
        region = match.group("region") if match else None
        return EcrRegistry(client_factory("ecr", aws_conn_id, region), account, settings)
    credentials = credentials_from_connection(registry_conn_id) if registry_conn_id else None
    return OciRegistry(host, credentials)
