"""ImageInRegistrySensor: wait for an image that is built and pushed elsewhere, and hand it on by digest."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from ml_lifecycle.core.image_ref import parse_image_ref
from ml_lifecycle.core.templating import is_template


class ImageInRegistrySensor(BaseSensorOperator):
    """Succeed when the registry holds the image; its XCom is ``{"image_uri": repo@sha256:..., "digest": ...}``.

    :param image: ``host/repository:tag`` or ``host/repository@sha256:...``; without a host the image is looked up
        in the AWS connection's ECR. (templated)
    :param registry_conn_id: an Airflow connection with the OCI registry's login and password, when it needs one.
    :param aws_conn_id: the Airflow AWS connection, for ECR.
    :param registry_id: another account's ECR registry id.
    """

    template_fields: Sequence[str] = ("image",)
    ui_color = "#f9d9b0"

    def __init__(
        self,
        *,
        image: str,
        registry_conn_id: str | None = None,
        aws_conn_id: str | None = "aws_default",
        registry_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.image = image
        self.registry_conn_id = registry_conn_id
        self.aws_conn_id = aws_conn_id
        self.registry_id = registry_id
        if not is_template(image):
            parse_image_ref(image, "image")

    def poke(self, context: Any) -> PokeReturnValue:
        """Look the tag or digest up once."""
        from ml_lifecycle.registries.resolve import registry_for

        ref = parse_image_ref(self.image, "image")
        registry = registry_for(
            ref.registry or None,
            registry_conn_id=self.registry_conn_id,
            aws_conn_id=self.aws_conn_id,
            registry_id=self.registry_id,
        )
        found = registry.lookup(ref.repository, ref.digest or ref.tag or "latest")
        if found is None:
            self.log.info("%s is not in the registry yet", self.image)
            return PokeReturnValue(is_done=False)
        uri = f"{registry.repository_uri(ref.repository)}@{found.digest}"  # it exists, so nothing is created
        self.log.info("%s is in the registry: %s", self.image, uri)
        return PokeReturnValue(is_done=True, xcom_value={"image_uri": uri, "digest": found.digest})
