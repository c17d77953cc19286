"""BuildImageOperator: build a training/serving image; an unchanged context is not built again."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from ml_lifecycle.base import LifecycleOperator
from ml_lifecycle.core.image_ref import validate_repository
from ml_lifecycle.core.templating import is_template
from ml_lifecycle.errors import SpecError


class BuildImageOperator(LifecycleOperator):
    """Build an image with the docker SDK, streaming the build log into the task log.

    The image is tagged with a hash of its context (files after .dockerignore, Dockerfile, build args); when an
    image with that tag exists, no build runs.

    :param context_path: the build context folder. (templated)
    :param repository: the local repository name, e.g. ``ml/linear``. (templated)
    :param dockerfile: the Dockerfile path relative to the context; default ``Dockerfile``.
    :param build_args: ARG values. (templated)
    :param tag: an extra tag to give the image, e.g. ``latest``. (templated)
    """

    template_fields: Sequence[str] = ("context_path", "repository", "build_args", "tag")
    ui_color = "#e8d5f5"

    def __init__(
        self,
        *,
        context_path: str,
        repository: str,
        dockerfile: str = "Dockerfile",
        build_args: Mapping[str, str] | None = None,
        tag: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.context_path = context_path
        self.repository = repository
        self.dockerfile = dockerfile
        self.build_args = build_args
        self.tag = tag
        if not is_template(repository):
            validate_repository(repository)

    def execute(self, context: Any) -> dict[str, Any]:
        """Build (or find) the image and return its reference, id and content hash."""
        from ml_lifecycle.backends import docker_engine
        from ml_lifecycle.compute.context_hash import context_hash, hash_tag
        from ml_lifecycle.compute.image_build import build_image

        if not os.path.isfile(os.path.join(self.context_path, self.dockerfile)):
            raise SpecError(
                "context_path", f"{self.context_path} has no {self.dockerfile}", "Point it at a build context"
            )
        args = {k: str(v) for k, v in (self.build_args or {}).items()}
        content = context_hash(self.context_path, self.dockerfile, args)
        image = f"{self.repository}:{hash_tag(content)}"
        engine = docker_engine()
        info = engine.find_image(image)
        built = info is None
        if info is not None:
            self.log.info("The context is unchanged (%s): reusing %s, no build", hash_tag(content), image)
        else:
            labels = {"org.opencontainers.image.revision": content, "ml-lifecycle.context-hash": content}
            info = build_image(
                engine,
                context_path=self.context_path,
                dockerfile=self.dockerfile,
                tag=image,
                build_args=args,
                labels=labels,
                sink=self.log.info,
            )
        if self.tag:
            engine.client.images.get(info.image_id).tag(self.repository, self.tag)
        return {"image": image, "image_id": info.image_id, "content_hash": content, "built": built}
