"""The login an engine pulls an image with: an ECR authorization token for the image's own account and region
(through the Airflow AWS connection), the login of an Airflow connection for any other registry, or none."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ml_lifecycle.core.image_ref import parse_image_ref
from ml_lifecycle.errors import RegistryError
from ml_lifecycle.registries.ecr import ECR_HOST

ECR_PERMISSIONS = "ecr:GetAuthorizationToken, ecr:BatchGetImage and ecr:GetDownloadUrlForLayer"
# What docker-py sends without a login of ours: the worker's ~/.docker/config.json (docker login, credential helpers).
ENGINE_CONFIG = (
    "no login from Airflow (only what this machine's Docker configuration holds: docker login, credential helpers)"
)
DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io", "index.docker.io/v1"})


@dataclass(frozen=True)
class PullLogin:
    """How one image is pulled, and how messages name it.

    :param registry: the registry host (``docker.io`` when the reference names none).
    :param described: which credentials are used, in words (never the secret).
    :param auth_config: the docker SDK auth_config, or None for an anonymous pull.
    :param advice: what to check when the registry refuses the pull.
    """

    registry: str
    described: str
    auth_config: Mapping[str, str] | None
    advice: str

    def __repr__(self) -> str:
        """Never show the password."""
        return f"PullLogin(registry={self.registry!r}, described={self.described!r})"


@dataclass(frozen=True)
class PullLogins:
    """Where the logins of image pulls come from.

    :param aws_conn_id: the Airflow AWS connection that asks ECR for tokens.
    :param registry_conn_id: an Airflow connection (docker or generic) with the login and password of the registry
        of non-ECR images, or None to pull them anonymously.
    """

    aws_conn_id: str | None = "aws_default"
    registry_conn_id: str | None = None

    def login_for(self, image_uri: str) -> PullLogin:
        """Return the login a pull of image_uri uses; raise RegistryError when it cannot be had, saying how to fix it.

        :param image_uri: the image reference.
        """
        registry = parse_image_ref(image_uri).registry or "docker.io"
        ecr = ECR_HOST.match(registry)
        if ecr:
            return self._ecr_login(registry, ecr["account"], ecr["region"])
        if self.registry_conn_id:
            from ml_lifecycle.registries.credentials import credentials_from_connection

            credentials = credentials_from_connection(self.registry_conn_id)
            if credentials.host and _canonical(credentials.host) != _canonical(registry):
                raise RegistryError(
                    f"The Airflow connection {self.registry_conn_id!r} holds the login of {credentials.host}, and "
                    f"{image_uri} is in {registry}: its password is not sent there. Give registry_conn_id a "
                    f"connection whose host is {registry} (or none), or fix image_uri"
                )
            return PullLogin(
                registry,
                f"the login {credentials.username!r} of the Airflow connection {self.registry_conn_id!r}",
                credentials.auth_config,
                f"Check the login and password of the Airflow connection {self.registry_conn_id!r} and that it may "
                "pull the repository, and that the image exists",
            )
        return anonymous(registry)

    def _ecr_login(self, registry: str, account: str, region: str) -> PullLogin:
        """Return an ECR token login for the registry of an account in a region.

        :param registry: the ECR host.
        :param account: the registry's account (AWS's framework images: e.g. 763104351884).
        :param region: the registry's region.
        """
        from ml_lifecycle.aws_clients import client_factory
        from ml_lifecycle.registries.ecr import EcrRegistry

        described = (
            f"an ECR authorization token for account {account} in {region}, asked with the Airflow connection "
            f"{self.aws_conn_id!r}"
        )
        try:
            login = EcrRegistry(client_factory("ecr", self.aws_conn_id, region), registry_id=account).login()
        except Exception as err:  # ECR's refusal, or no credentials, no region, an unreachable endpoint
            # The engine may still log in by itself (docker login, the ecr-login credential helper).
            return PullLogin(
                registry,
                f"{ENGINE_CONFIG}, as {described} could not be had ({type(err).__name__}: {err})",
                None,
                f"Give the connection {self.aws_conn_id!r} credentials whose identity has {ECR_PERMISSIONS} (AWS's "
                "framework images are in AWS's accounts: pull them in their own region), or log this machine's "
                "Docker in to the registry",
            )
        return PullLogin(
            registry,
            described,
            login.auth_config,
            f"Check that the connection's identity has {ECR_PERMISSIONS} on the repository and that the image exists",
        )


def anonymous(registry: str) -> PullLogin:
    """Return the login of an anonymous pull from a registry.

    :param registry: the registry host.
    """
    return PullLogin(
        registry,
        ENGINE_CONFIG,
        None,
        "If the registry needs a login, give registry_conn_id (an Airflow connection with its login and password); "
        "if the image is built here, build it first (BuildImageOperator) or fix image_uri",
    )


def _canonical(host: str) -> str:
    """Return a registry host with Docker Hub's aliases made one.

    :param host: a registry host as a connection or an image reference names it.
    """
    bare = host.removeprefix("https://").removeprefix("http://").rstrip("/")
    return "docker.io" if bare in DOCKER_HUB_ALIASES else bare
