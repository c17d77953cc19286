"""PushToECROperator: push an image to Amazon ECR (or any OCI registry) and hand it on by digest."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ml_lifecycle.base import LifecycleOperator
from ml_lifecycle.core.image_ref import parse_image_ref
from ml_lifecycle.core.templating import is_template
from ml_lifecycle.errors import SpecError


class PushToECROperator(LifecycleOperator):
    """Push a local image and return ``image_uri`` pinned by digest (``repo@sha256:...``).

    :param image: the local image reference or id, e.g. the BuildImage task's ``image``. (templated)
    :param repository: the repository name in the registry, e.g. ``ml/linear``. (templated)
    :param registry: an OCI registry host (``127.0.0.1:5000``); None pushes to Amazon ECR. (templated)
    :param tag: the tag to push; default the image's own tag, else ``latest``. (templated)
    :param aws_conn_id: the Airflow AWS connection for ECR (region, endpoint_url, credentials).
    :param registry_id: another account's ECR registry id, or None for the connection's account.
    """

    template_fields: Sequence[str] = ("image", "repository", "registry", "tag")
    ui_color = "#f9d9b0"

    def __init__(
        self,
        *,
        image: str,
        repository: str,
        registry: str | None = None,
        tag: str | None = None,
        aws_conn_id: str | None = "aws_default",
        registry_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.image = image
        self.repository = repository
        self.registry = registry
        self.tag = tag
        self.aws_conn_id = aws_conn_id
        self.registry_id = registry_id
        if not is_template(repository):
            ref = parse_image_ref(repository, "repository")
            if ref.tag or ref.digest or ref.registry:
                raise SpecError(
                    "repository",
                    f"{repository!r} carries a registry, tag or digest",
                    "Give the repository path alone (e.g. ml/linear) and pass registry= and tag=",
                )

    def execute(self, context: Any) -> dict[str, Any]:
        """Push and return the digest-pinned image URI."""
        from ml_lifecycle.backends import docker_engine
        from ml_lifecycle.registries.push import push_image

        own_tag = "" if self.image.startswith("sha256:") else parse_image_ref(self.image, "image").tag
        tag = self.tag or own_tag or "latest"
        auth = None
        if self.registry:
            target = f"{self.registry.rstrip('/')}/{self.repository}"
        else:
            from ml_lifecycle.aws_clients import client_factory
            from ml_lifecycle.registries import ecr

            factory = client_factory("ecr", self.aws_conn_id)
            target = ecr.ensure_repository(factory(), self.repository, self.registry_id)
            credentials = ecr.login(factory, self.registry_id)
            auth = credentials.auth_config
        image_uri = push_image(
            docker_engine(),
            image=self.image,
            repository=target,
            tag=tag,
            auth_config=auth,
            sink=self.log.info,
        )
        return {
            "image_uri": image_uri,
            "repository": target,
            "tag": tag,
            "digest": image_uri.split("@", 1)[1],
        }
