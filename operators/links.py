"""Extra links on our operators' task pages: the image, instances, logs, artifacts and endpoint of a task.

Airflow 3 runs no user code in the API server: when a task ends, the worker calls each link's ``get_link`` and
stores the URL in XCom, where the UI reads it. Our links build the URL from the XComs the operator pushed
(every key of its result) and from the rendered operator, so the operators need no extra code to persist them.
AWS console URLs are given for ``s3://`` locations, ECR images and ``compute="ec2"``; local paths and URLs else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from airflow.sdk import BaseOperatorLink


def _region() -> str:
    """Return the AWS region the console URLs name."""
    from ml_lifecycle import settings

    return settings.region()


def _local_job_log(job_name: str) -> str:
    """Return the file:// path of a local job's agent log.

    :param job_name: the job name.
    """
    from ml_lifecycle import settings

    return f"file://{settings.home_dir() / 'logs' / 'jobs' / f'{job_name}.log'}" if job_name else ""


def _job_folder(model_uri: str) -> str:
    """Return the ``<output_path>/<job>/output/`` folder of a trained model.

    :param model_uri: ``<output_path>/<job>/output/model.tar.gz`` (or the output folder itself).
    """
    return model_uri.rsplit("/", 1)[0] + "/" if model_uri.endswith(".tar.gz") else model_uri


class LifecycleLink(BaseOperatorLink):
    """A link built from the XComs a task pushed; subclasses say which keys and how to make the URL."""

    name: ClassVar[str] = ""
    keys: ClassVar[tuple[str, ...]] = ()

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        """Read the task's XComs and return the URL, or "" when there is nothing to link to.

        :param operator: the task's operator (rendered).
        :param ti_key: the task instance.
        """
        from airflow.sdk.execution_time.xcom import XCom

        values = {key: XCom.get_value(ti_key=ti_key, key=key) for key in self.keys}
        return self.url(operator, {k: v for k, v in values.items() if v is not None})

    def url(self, operator: Any, values: Mapping[str, Any]) -> str:
        """Return the URL from the operator and its XCom values.

        :param operator: the task's operator.
        :param values: XCom key -> value, for the keys that were pushed.
        """
        raise NotImplementedError


def _job_name(operator: Any, values: Mapping[str, Any]) -> str:
    """Return the job's name from XCom, else from the operator (a failed task pushed no XCom).

    :param operator: the task's operator.
    :param values: XCom values.
    """
    return str(values.get("job_name") or getattr(operator, "_job_name", None) or "")


def _is_ec2(operator: Any) -> bool:
    """Say whether the operator ran on EC2.

    :param operator: the task's operator.
    """
    return getattr(operator, "compute", "local") == "ec2"


class ImageLink(LifecycleLink):
    """The pushed image: its page in the ECR console, or its repository's tags in an OCI registry."""

    name = "Image"
    keys = ("image_uri",)

    def url(self, operator: Any, values: Mapping[str, Any]) -> str:
        """Link to the image by digest."""
        from ml_lifecycle.web import console_urls

        return console_urls.image_url(str(values.get("image_uri", "")))


class InstancesLink(LifecycleLink):
    """The job's EC2 instances in the EC2 console (a local job has none)."""

    name = "Instances"
    keys = ("job_name",)

    def url(self, operator: Any, values: Mapping[str, Any]) -> str:
        """Link to the instances tagged with the job."""
        from ml_lifecycle.web import console_urls

        return console_urls.instances_url(_job_name(operator, values), _region()) if _is_ec2(operator) else ""


class JobLogsLink(LifecycleLink):
    """The job's logs: CloudWatch for EC2, the agent's log file for local jobs."""

    name = "Job logs"
    keys = ("job_name",)

    def url(self, operator: Any, values: Mapping[str, Any]) -> str:
        """Link to the job's log streams or log file."""
        from ml_lifecycle.web import console_urls

        job = _job_name(operator, values)
        return console_urls.job_logs_url(job, _region()) if _is_ec2(operator) else _local_job_log(job)


class _ArtifactLink(LifecycleLink):
    """An artifact location taken from one XCom key, shaped by ``locate``."""

    locate: ClassVar[Callable[[str], str]] = staticmethod(lambda uri: uri)

    def url(self, operator: Any, values: Mapping[str, Any]) -> str:
        """Link to the artifact in the S3 console, or to its local path."""
        from ml_lifecycle.web import console_urls

        uri = str(values.get(self.keys[0], ""))
        return console_urls.artifact_url(type(self).locate(uri), _region()) if uri else ""


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


ALL_LINKS = (
    ImageLink,
    InstancesLink,
    JobLogsLink,
    TrainingArtifactsLink,
    ModelVersionLink,
    PredictionsLink,
    EndpointLink,
)
