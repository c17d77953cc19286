"""Amazon ECR through the Airflow AWS connection: repositories with their settings, login, manifest lookups."""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ml_lifecycle.errors import RegistryError
from ml_lifecycle.registries.base import RemoteImage
from ml_lifecycle.registries.credentials import Credentials
from ml_lifecycle.registries.oci import MANIFEST_TYPES
from ml_lifecycle.secret_sources.values import mask_secret

log = logging.getLogger(__name__)

ECR_HOST = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")


@dataclass(frozen=True)
class RepositorySettings:
    """How a repository that PushToECR creates is configured (an existing one is left as it is).

    :param scan_on_push: scan each pushed image for vulnerabilities; default True.
    :param tag_immutability: a tag can never be moved to another image; default True (tags are content hashes).
    :param encryption: ``AES256`` (default) or ``KMS``.
    :param kms_key: the KMS key ARN or id with ``KMS``; None uses the AWS managed key.
    :param lifecycle_policy: an ECR lifecycle policy (dict or JSON text) put on the repository; None puts none.
    """

    scan_on_push: bool = True
    tag_immutability: bool = True
    encryption: str = "AES256"
    kms_key: str | None = None
    lifecycle_policy: Mapping[str, Any] | str | None = None

    def create_arguments(self) -> dict[str, Any]:
        """The create_repository arguments these settings stand for."""
        encryption: dict[str, str] = {"encryptionType": self.encryption}
        if self.encryption == "KMS" and self.kms_key:
            encryption["kmsKey"] = self.kms_key
        return {
            "imageScanningConfiguration": {"scanOnPush": self.scan_on_push},
            "imageTagMutability": "IMMUTABLE" if self.tag_immutability else "MUTABLE",
            "encryptionConfiguration": encryption,
        }

    def policy_text(self) -> str | None:
        """The lifecycle policy as JSON text, or None."""
        if self.lifecycle_policy is None or isinstance(self.lifecycle_policy, str):
            return self.lifecycle_policy
        return json.dumps(self.lifecycle_policy)


class EcrRegistry:
    """One account's ECR registry, reached with a boto3 client built from the Airflow AWS connection.

    :param client_factory: returns a boto3 ECR client (``aws_clients.client_factory("ecr", conn_id)``).
    :param registry_id: another account's registry id (cross-account), or None for the connection's account.
    :param settings: how repositories created here are configured.
    """

    def __init__(
        self,
        client_factory: Callable[[], Any],
        registry_id: str | None = None,
        settings: RepositorySettings | None = None,
    ) -> None:
        self._client = client_factory
        self.registry_id = registry_id
        self.settings = settings or RepositorySettings()
        self._repositories: dict[str, dict[str, Any]] = {}
        self._login: Credentials | None = None

    @property
    def _ids(self) -> dict[str, str]:
        return {"registryId": self.registry_id} if self.registry_id else {}

    def repository_uri(self, repository: str) -> str:
        """Create the repository when missing (with the settings) and return its URI.

        :param repository: the repository name, e.g. ``ml/linear``.
        """
        return self._repository(repository, create=True)["repositoryUri"]

    def tags_are_immutable(self, repository: str) -> bool:
        """Say whether the repository refuses to move tags.

        :param repository: the repository name.
        """
        return self._repository(repository, create=True).get("imageTagMutability") == "IMMUTABLE"

    def lookup(self, repository: str, reference: str) -> RemoteImage | None:
        """Return the manifest a tag or digest names, asked through the ECR API; None when absent.

        :param repository: the repository name.
        :param reference: a tag or ``sha256:...`` digest.
        """
        from botocore.exceptions import ClientError

        image_id = {"imageDigest": reference} if reference.startswith("sha256:") else {"imageTag": reference}
        try:
            answer = self._client().batch_get_image(
                repositoryName=repository, imageIds=[image_id], acceptedMediaTypes=list(MANIFEST_TYPES), **self._ids
            )
        except ClientError as err:
            if err.response["Error"]["Code"] == "RepositoryNotFoundException":
                return None
            raise RegistryError(
                f"ECR refused to read {repository}:{reference}: {err}. Grant ecr:BatchGetImage"
            ) from err
        if not answer.get("images"):
            return None
        image = answer["images"][0]
        try:
            config = (json.loads(image.get("imageManifest") or "{}").get("config") or {}).get("digest", "")
        except ValueError:
            config = ""
        return RemoteImage(digest=image["imageId"]["imageDigest"], config_digest=config)

    def confirm(self, repository: str, digest: str, tag: str) -> None:
        """Check with describe_images that the digest is in the repository under the tag.

        :param repository: the repository name.
        :param digest: the pushed manifest digest.
        :param tag: the tag pushed with it.
        """
        from botocore.exceptions import ClientError

        try:
            details = self._client().describe_images(
                repositoryName=repository, imageIds=[{"imageDigest": digest}], **self._ids
            )["imageDetails"]
        except ClientError as err:
            raise RegistryError(
                f"ECR does not confirm {repository}@{digest} after the push: {err}. Check the push log and "
                "ecr:DescribeImages"
            ) from err
        if not details or tag not in (details[0].get("imageTags") or []):
            raise RegistryError(f"ECR holds {repository}@{digest} but not under the tag {tag!r}; push it again")

    def auth_config(self) -> Mapping[str, str] | None:
        """Log in with an authorization token (valid 12 h) and return the docker SDK auth_config."""
        if self._login is None:
            self._login = self.login()
        return self._login.auth_config

    def login(self) -> Credentials:
        """Get a push and pull token for the registry from ECR's authorization API."""
        from botocore.exceptions import ClientError

        try:
            ids = {"registryIds": [self.registry_id]} if self.registry_id else {}
            data = self._client().get_authorization_token(**ids)["authorizationData"][0]
        except ClientError as err:
            raise RegistryError(f"ECR refused a login token: {err}. Grant ecr:GetAuthorizationToken") from err
        username, password = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)
        mask_secret(password)
        host = data["proxyEndpoint"].removeprefix("https://").removeprefix("http://")
        return Credentials(username=username, password=password, host=host)

    def _repository(self, name: str, *, create: bool) -> dict[str, Any]:
        """Describe the repository, creating it (with the settings and lifecycle policy) when missing.

        :param name: the repository name.
        :param create: create it when missing.
        """
        if name in self._repositories:
            return self._repositories[name]
        from botocore.exceptions import ClientError

        client = self._client()
        try:
            found = client.describe_repositories(repositoryNames=[name], **self._ids)["repositories"][0]
        except ClientError as err:
            if err.response["Error"]["Code"] != "RepositoryNotFoundException" or not create:
                raise RegistryError(
                    f"ECR refused to describe {name}: {err}. Check the connection's permissions"
                ) from err
            found = self._create(client, name)
        self._repositories[name] = found
        return found

    def _create(self, client: Any, name: str) -> dict[str, Any]:
        """Create a repository with the settings and put the lifecycle policy.

        :param client: the boto3 ECR client.
        :param name: the repository name.
        """
        from botocore.exceptions import ClientError

        arguments = self.settings.create_arguments()
        log.info("Creating ECR repository %s (%s)", name, arguments)
        try:
            created = client.create_repository(repositoryName=name, **arguments, **self._ids)["repository"]
            policy = self.settings.policy_text()
            if policy:
                client.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=policy, **self._ids)
        except ClientError as err:
            raise RegistryError(
                f"ECR refused to create {name}: {err}. Create it yourself or grant ecr:CreateRepository "
                "(and ecr:PutLifecyclePolicy with a lifecycle policy)"
            ) from err
        return created
