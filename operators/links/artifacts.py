"""Links to what a task made: the image, the training artifacts, the model version, predictions, the endpoint.

AWS console URLs are given for ``s3://`` locations and ECR images, local paths and URLs else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from ml_lifecycle.links.base import LifecycleLink, region


def _job_folder(model_uri: str) -> str:
    """Return the ``<output_path>/<job>/output/`` folder of a trained model.

    :param model_uri: ``<output_path>/<job>/output/model.tar.gz`` (or the output folder itself).
    """
    return model_uri.rsplit("/", 1)[0] + "/" if model_uri.endswith(".tar.gz") else model_uri


class ImageLink(LifecycleLink):
    """The pushed image: its page in the ECR console, or its repository's tags in an OCI registry."""

    name = "Image"
    keys = ("image_uri",)

    def url(self, operator: Any, values: Mapping[str, Any]) -> str:
        """Link to the image by digest."""
        from ml_lifecycle.links import console_urls

        return console_urls.image_url(str(values.get("image_uri", "")))


class _ArtifactLink(LifecycleLink):
    """An artifact location taken from one XCom key, shaped by ``locate``."""

    locate: ClassVar[Callable[[str], str]] = staticmethod(lambda uri: uri)

    def url(self, operator: Any, values: Mapping[str, Any]) -> str:
        """Link to the artifact in the S3 console, or to its local path."""
        from ml_lifecycle.links import console_urls

        uri = str(values.get(self.keys[0], ""))
        return console_urls.artifact_url(type(self).locate(uri), region()) if uri else ""


class TrainingArtifactsLink(_ArtifactLink):
    """A training job's outputs (model.tar.gz and output.tar.gz)."""

    name = "Training artifacts"
    keys = ("model_uri",)
    locate = staticmethod(_job_folder)


class ModelVersionLink(_ArtifactLink):
    """The published model version's folder (model and manifest)."""

    name = "Model version"
    keys = ("manifest_uri",)
    locate = staticmethod(lambda uri: uri.rsplit("/", 1)[0] + "/")


class PredictionsLink(_ArtifactLink):
    """A batch transform's outputs."""

    name = "Predictions"
    keys = ("output_uri",)
    locate = staticmethod(lambda uri: uri.rstrip("/") + "/")


class EndpointLink(LifecycleLink):
    """The endpoint's base URL (POST ``<url>/invocations``)."""

    name = "Endpoint"
    keys = ("url",)

    def url(self, operator: Any, values: Mapping[str, Any]) -> str:
        """Link to the endpoint."""
        return str(values.get("url", ""))
