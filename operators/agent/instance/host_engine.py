"""The Docker engine of an instance: ECR images pulled with a login (containers join ``network="host"``)."""

from __future__ import annotations

from ml_lifecycle.agent.instance.image_pull import EcrClientFor, pull_from_ecr
from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine, ImageInfo
from ml_lifecycle.registries.pull_login import PullLogins


class InstanceEngine(DockerEngine):
    """A DockerEngine that pulls Amazon ECR images with a login token from the instance role.

    :param ecr_client_for: region -> a factory of boto3 ECR clients, for images in Amazon ECR; None pulls every
        image anonymously.
    """

    def __init__(self, ecr_client_for: EcrClientFor | None = None) -> None:
        super().__init__()
        self.ecr_client_for = ecr_client_for

    def ensure_image(self, ref: str, logins: PullLogins | None = None) -> ImageInfo:
        """Return the image, pulling it when missing (from ECR with a login token from the instance role).

        :param ref: an image reference (tag or digest).
        :param logins: unused: an instance has no Airflow connections; its role logs in to ECR.
        """
        if self.ecr_client_for is not None:
            pull_from_ecr(self, ref, self.ecr_client_for)
        return super().ensure_image(ref)
