"""Pull a training image from Amazon ECR with a login token (other registries are pulled anonymously)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ml_lifecycle.core.image_ref import parse_image_ref
from ml_lifecycle.errors import ImageNotFound
from ml_lifecycle.registries.ecr import ECR_HOST, EcrRegistry

log = logging.getLogger(__name__)

EcrClientFor = Callable[[str], Callable[[], Any]]


def ecr_location(image_uri: str) -> tuple[str, str] | None:
    """Return (account, region) when the image lives in Amazon ECR, else None.

    :param image_uri: the image reference.
    """
    registry = parse_image_ref(image_uri).registry
    match = ECR_HOST.match(registry.split(":", 1)[0]) if registry else None
    return (match["account"], match["region"]) if match else None


def pull_from_ecr(engine: Any, image_uri: str, ecr_client_for: EcrClientFor) -> bool:
    """Pull an ECR image the engine lacks, logged in with ecr.get_authorization_token; return whether it pulled.

    :param engine: the instance's DockerEngine.
    :param image_uri: the image (``<acct>.dkr.ecr.<region>.amazonaws.com/repo@sha256:...``).
    :param ecr_client_for: region -> a factory of boto3 ECR clients in that region.
    """
    location = ecr_location(image_uri)
    if location is None or engine.image_id(image_uri) is not None:
        return False
    account, region = location
    ecr = EcrRegistry(ecr_client_for(region), registry_id=account)
    log.info("Pulling %s with an ECR login for account %s", image_uri, account)
    import docker

    try:
        engine.client.images.pull(image_uri, auth_config=dict(ecr.auth_config() or {}))
    except docker.errors.APIError as err:
        raise ImageNotFound(
            f"The instance could not pull {image_uri} from ECR ({err.explanation}). Give the instance role "
            "ecr:GetAuthorizationToken, ecr:BatchGetImage and ecr:GetDownloadUrlForLayer on the repository"
        ) from err
    return True
