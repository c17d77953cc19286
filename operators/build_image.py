"""BuildImageOperator: build a training/serving image; an unchanged context is not built again."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ml_lifecycle.base import LifecycleOperator
from ml_lifecycle.core.image_ref import parse_image_ref, validate_repository
from ml_lifecycle.core.templating import is_template
from ml_lifecycle.errors import SpecError


class BuildImageOperator(LifecycleOperator):
    """Build an image with the Docker engine, streaming the build log (with step times) into the task log.

    The image is tagged ``ctx-<hash>`` with a hash of its context (files after .dockerignore, Dockerfile, build
    args, target, platform); when the engine or ``check_registry`` holds that tag, no build runs. With
    ``template=`` a folder holding a training script, an inference module and requirements.txt becomes a
    SageMaker-compatible image (``train`` and ``serve``) without a Dockerfile.

    :param context_path: the build context folder (with a template: the folder of Python code). (templated)
    :param repository: the repository name, e.g. ``ml/linear`` or ``127.0.0.1:5000/ml/linear``. (templated)
    :param dockerfile: the Dockerfile path relative to the context; default ``Dockerfile``; unused with a template.
    :param build_args: ARG values. (templated)
    :param tag: an extra tag to give the built image, e.g. ``latest``. (templated)
    :param target: the Dockerfile stage to build; default the last. (templated)
    :param platform: e.g. ``linux/amd64``; default the engine's. (templated)
    :param cache_from: images pulled before the build and offered as layer cache, e.g. the last push. (templated)
    :param secrets: secret id -> ``env:NAME`` or a file, for ``RUN --mount=type=secret,id=...``; never in a layer.
        (templated)
    :param labels: extra image labels; the OCI source, revision and created labels are always set.
    :param source: the ``org.opencontainers.image.source`` URL; default the git remote of context_path.
    :param template: ``python-script`` (train and serve) or ``python-inference`` (serve only); None builds the
        context's Dockerfile.
    :param template_vars: template settings: base_image (``python:3.11-slim``), program (``train.py``), inference
        (``inference.py``), python (``python3``).
    :param check_registry: a registry to look in for the hash tag before building: an OCI host, an ECR host or
        ``ecr``; default the host in ``repository``, if any. (templated)
    :param registry_conn_id: an Airflow connection with the OCI registry's login and password.
    :param aws_conn_id: the Airflow AWS connection, for ECR.
    :param registry_id: another account's ECR registry id.
    """

    template_fields: Sequence[str] = (
        "context_path", "repository", "build_args", "tag", "target", "platform", "cache_from", "secrets",
        "check_registry",
    )  # fmt: skip
    ui_color = "#e8d5f5"

    def __init__(
        self,
        *,
        context_path: str,
        repository: str,
        dockerfile: str = "Dockerfile",
        build_args: Mapping[str, str] | None = None,
        tag: str | None = None,
        target: str | None = None,
        platform: str | None = None,
        cache_from: Sequence[str] | None = None,
        secrets: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
        source: str | None = None,
        template: str | None = None,
        template_vars: Mapping[str, str] | None = None,
        check_registry: str | None = None,
        registry_conn_id: str | None = None,
        aws_conn_id: str | None = "aws_default",
        registry_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.context_path = context_path
        self.repository = repository
        self.dockerfile = dockerfile
        self.build_args = build_args
        self.tag = tag
        self.target = target
        self.platform = platform
        self.cache_from = cache_from
        self.secrets = secrets
        self.labels = labels
        self.source = source
        self.template = template
        self.template_vars = template_vars
        self.check_registry = check_registry
        self.registry_conn_id = registry_conn_id
        self.aws_conn_id = aws_conn_id
        self.registry_id = registry_id
        if not is_template(repository):
            validate_repository(repository)
        if template is not None:
            from ml_lifecycle.templates.render import template_variables

            template_variables(template, template_vars)

    def execute(self, context: Any) -> dict[str, Any]:
        """Build (or find) the image and return its reference, id, content hash and whether a build ran."""
        from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine
        from ml_lifecycle.compute.local.images.build import reuse_or_build

        engine = DockerEngine()
        with tempfile.TemporaryDirectory(prefix="ml-lifecycle-context-") as staging:
            request, prepare = self._request(engine, staging)
            outcome = reuse_or_build(
                engine, request, repository=self.repository, registry=self._registry(), prepare=prepare,
                sink=self.log.info,
            )  # fmt: skip
        if self.tag and outcome.found_in != "registry":
            engine.client.images.get(outcome.image_id).tag(self.repository, self.tag)
        return {
            "image": outcome.image, "image_id": outcome.image_id, "content_hash": outcome.content_hash,
            "built": outcome.built, "found_in": outcome.found_in, "image_uri": outcome.image_uri,
        }  # fmt: skip

    def _request(self, engine: Any, staging: str) -> tuple[Any, Callable[[], None] | None]:
        """Return the build request (staging a template into ``staging``) and what to do just before a build.

        :param engine: the Docker engine.
        :param staging: an empty folder for a template's build context.
        """
        from ml_lifecycle.compute.local.images.build import BuildRequest
        from ml_lifecycle.templates import render

        context_path, dockerfile, prepare = self.context_path, self.dockerfile, None
        if self.template:
            variables = render.template_variables(self.template, self.template_vars)
            if render.stage(self.template, self.context_path, staging, variables):

                def prepare() -> None:
                    render.download_wheels(engine, staging, variables, self.log.info)

            context_path, dockerfile = staging, "Dockerfile"
        elif not os.path.isfile(os.path.join(self.context_path, self.dockerfile)):
            raise SpecError("context_path", f"{self.context_path} has no {self.dockerfile}", "Point it at a context")
        request = BuildRequest(
            context_path=context_path,
            dockerfile=dockerfile,
            build_args={k: str(v) for k, v in (self.build_args or {}).items()},
            target=self.target,
            platform=self.platform,
            cache_from=list(self.cache_from or ()),
            secrets=dict(self.secrets or {}),
            labels=dict(self.labels or {}),
            source_path=self.context_path,
            source=self.source,
        )
        return request, prepare

    def _registry(self) -> Any:
        """Return (registry, repository path) to look in before building, or None."""
        ref = parse_image_ref(self.repository, "repository")
        host = self.check_registry or ref.registry
        if not host:
            return None
        from ml_lifecycle.registries.resolve import registry_for

        registry = registry_for(
            host, registry_conn_id=self.registry_conn_id, aws_conn_id=self.aws_conn_id, registry_id=self.registry_id
        )
        return registry, ref.repository
