"""Amazon ECR: ensure the repository exists and log in with the Airflow AWS connection."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ml_lifecycle.errors import RegistryError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EcrLogin:
    """Credentials for pushing to one ECR registry.

    :param registry: the registry host, e.g. ``123456789012.dkr.ecr.eu-west-1.amazonaws.com``.
    :param username: always ``AWS``.
    :param password: the temporary token (valid 12 h).
    """

    registry: str
    username: str
    password: str

    @property
    def auth_config(self) -> dict[str, str]:
        """The docker SDK auth_config for a push."""
        return {"username": self.username, "password": self.password}


def ensure_repository(client: Any, name: str, registry_id: str | None = None) -> str:
    """Create the ECR repository when missing (scan on push, encrypted) and return its URI.

    :param client: a boto3 ECR client.
    :param name: the repository name, e.g. ``ml/linear``.
    :param registry_id: the account id of another account's registry, or None for the caller's.
    """
    from botocore.exceptions import ClientError

    ids = {"registryId": registry_id} if registry_id else {}
    try:
        found = client.describe_repositories(repositoryNames=[name], **ids)["repositories"][0]
        return found["repositoryUri"]
    except ClientError as err:
        if err.response["Error"]["Code"] != "RepositoryNotFoundException":
            raise RegistryError(
                f"ECR refused to describe {name}: {err}. Check the AWS connection's permissions"
            ) from err
    log.info("Creating ECR repository %s", name)
    try:
        created = client.create_repository(
            repositoryName=name,
            imageScanningConfiguration={"scanOnPush": True},
            encryptionConfiguration={"encryptionType": "AES256"},
            **ids,
        )
    except ClientError as err:
        raise RegistryError(
            f"ECR refused to create {name}: {err}. Create it yourself or grant ecr:CreateRepository"
        ) from err
    return created["repository"]["repositoryUri"]


def login(client_factory: Callable[[], Any], registry_id: str | None = None) -> EcrLogin:
    """Get a push token for the registry from ECR's authorization API.

    :param client_factory: returns a boto3 ECR client (from the Airflow AWS connection).
    :param registry_id: the account id of the registry, or None for the caller's.
    """
    import base64

    from botocore.exceptions import ClientError

    try:
        ids = {"registryIds": [registry_id]} if registry_id else {}
        data = client_factory().get_authorization_token(**ids)["authorizationData"][0]
    except ClientError as err:
        raise RegistryError(f"ECR refused a login token: {err}. Grant ecr:GetAuthorizationToken") from err
    username, password = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)
    _mask(password)
    registry = data["proxyEndpoint"].removeprefix("https://").removeprefix("http://")
    return EcrLogin(registry=registry, username=username, password=password)


def _mask(secret: str) -> None:
    """Keep a secret out of the task log when running under Airflow.

    :param secret: the secret.
    """
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # outside Airflow (the agent) there is no task log to mask
        return
    mask_secret(secret)
