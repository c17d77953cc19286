"""The instance pulls ECR images with a login token from ecr.get_authorization_token (moto server)."""

from __future__ import annotations

import boto3
import pytest

from ml_lifecycle.agent.instance.host_engine import InstanceEngine
from ml_lifecycle.agent.instance.image_pull import ecr_location, pull_from_ecr
from ml_lifecycle.errors import ImageNotFound

ECR_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/models/linear@sha256:" + "b" * 64

pytestmark = pytest.mark.docker


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (ECR_IMAGE, ("123456789012", "us-east-1")),
        ("123456789012.dkr.ecr.eu-west-3.amazonaws.com/m:1", ("123456789012", "eu-west-3")),
        ("127.0.0.1:5000/m@sha256:" + "c" * 64, None),
        ("ghcr.io/team/model:1", None),
    ],
)
def test_only_amazon_ecr_images_get_a_login(image, expected):
    assert ecr_location(image) == expected


def test_an_ecr_pull_logs_in_through_ecr_and_says_which_permissions_a_refusal_needs(moto_server, docker_client):
    calls: list[str] = []

    def ecr_for(region: str):
        client = boto3.client("ecr", endpoint_url=moto_server, region_name=region)
        client.meta.events.register("before-call.ecr.GetAuthorizationToken", lambda **_: calls.append(region))
        return lambda: client

    # moto hands out a token for a registry this machine cannot reach, so the pull itself fails: what matters is
    # that the login went through ECR's API in the image's region and the failure names what the role needs.
    with pytest.raises(ImageNotFound, match="ecr:GetAuthorizationToken, ecr:BatchGetImage"):
        pull_from_ecr(InstanceEngine(), ECR_IMAGE, ecr_for)
    assert calls == ["us-east-1"]


def test_an_ecr_image_already_on_the_engine_is_not_pulled_again(example_image, docker_client):
    local_ecr_tag = "123456789012.dkr.ecr.us-east-1.amazonaws.com/models/linear:on-this-engine"
    docker_client.images.get(example_image).tag(local_ecr_tag)

    def never(region: str):
        raise AssertionError("no ECR login is needed for an image the engine has")

    try:
        assert pull_from_ecr(InstanceEngine(), local_ecr_tag, never) is False
    finally:
        docker_client.images.remove(local_ecr_tag)
