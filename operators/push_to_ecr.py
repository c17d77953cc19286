"""PushToECROperator: push an image to Amazon ECR (or any OCI registry) and hand it on by digest."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ml_lifecycle.base import LifecycleOperator
from ml_lifecycle.core.image_ref import parse_image_ref
from ml_lifecycle.core.templating import is_template
from ml_lifecycle.errors import SpecError
from ml_lifecycle.links import ImageLink


class PushToECROperator(LifecycleOperator):
    """Push a local image and return ``image_uri`` pinned by digest (``repo@sha256:...``).

    ECR repositories are created when missing (scan on push, immutable tags, encryption, an optional lifecycle
    policy); a push of an image the registry holds under the tag already sends nothing.

    :param image: the local image reference or id, e.g. the BuildImage task's ``image``. (templated)
    :param repository: the repository name in the registry, e.g. ``ml/linear``. (templated)
    :param registry: None (or ``ecr``) for the AWS connection's ECR, an ECR host, or an OCI registry host such as
        ``127.0.0.1:5000``. (templated)
    :param tag: the tag to push; default the image's own tag, else ``latest``. (templated)
    :param aws_conn_id: the Airflow AWS connection for ECR (region, endpoint_url, credentials).
    :param registry_id: another account's ECR registry id, or None for the connection's account.
    :param registry_conn_id: an Airflow connection (docker or generic) with an OCI registry's login and password.
    :param scan_on_push: ECR repositories created here scan pushed images; default True.
    :param tag_immutability: ECR repositories created here refuse to move tags; default True.
    :param encryption: ``AES256`` (default) or ``KMS`` for ECR repositories created here.
    :param kms_key: the KMS key with ``KMS``; None uses the AWS managed key.
    :param lifecycle_policy: an ECR lifecycle policy (dict or JSON) for repositories created here; default none.
    """

    template_fields: Sequence[str] = ("image", "repository", "registry", "tag")
    ui_color = "#f9d9b0"
    operator_extra_links = (ImageLink(),)

    def __init__(
        self,
        *,
        image: str,
        repository: str,
        registry: str | None = None,
        tag: str | None = None,
        aws_conn_id: str | None = "aws_default",
        registry_id: str | None = None,
        registry_conn_id: str | None = None,
        scan_on_push: bool = True,
        tag_immutability: bool = True,
        encryption: str = "AES256",
        kms_key: str | None = None,
        lifecycle_policy: Mapping[str, Any] | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.image = image
        self.repository = repository
        self.registry = registry
        self.tag = tag
        self.aws_conn_id = aws_conn_id
        self.registry_id = registry_id
        self.registry_conn_id = registry_conn_id
        self.scan_on_push = scan_on_push
        self.tag_immutability = tag_immutability
        self.encryption = encryption
        self.kms_key = kms_key
        self.lifecycle_policy = lifecycle_policy
        if encryption not in ("AES256", "KMS"):
            raise SpecError("encryption", f"{encryption!r} is not an ECR encryption type", "Use 'AES256' or 'KMS'")
        if not is_template(repository):
            ref = parse_image_ref(repository, "repository")
            if ref.tag or ref.digest or ref.registry:
                raise SpecError(
                    "repository",
                    f"{repository!r} carries a registry, tag or digest",
                    "Give the repository path alone (e.g. ml/linear) and pass registry= and tag=",
                )

    def execute(self, context: Any) -> dict[str, Any]:
        """Push (or find the image there already), confirm the digest and return the digest-pinned URI."""
        from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine
        from ml_lifecycle.compute.local.images.publish import publish
        from ml_lifecycle.registries.ecr import RepositorySettings
        from ml_lifecycle.registries.resolve import registry_for

        own_tag = "" if self.image.startswith("sha256:") else parse_image_ref(self.image, "image").tag
        settings = RepositorySettings(
            self.scan_on_push, self.tag_immutability, self.encryption, self.kms_key, self.lifecycle_policy
        )
        registry = registry_for(
            self.registry,
            registry_conn_id=self.registry_conn_id,
            aws_conn_id=self.aws_conn_id,
            registry_id=self.registry_id,
            settings=settings,
        )
        done = publish(
            DockerEngine(),
            registry,
            image=self.image,
            repository=self.repository,
            tag=self.tag or own_tag or "latest",
            sink=self.log.info,
        )
        return {
            "image_uri": done.image_uri,
            "repository": done.repository,
            "tag": done.tag,
            "digest": done.digest,
            "pushed": done.pushed,
        }
