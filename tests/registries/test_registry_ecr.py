"""Amazon ECR's API on moto's server: repository settings, login, manifest lookups, digest confirmation, immutability.

moto speaks the ECR API but is no registry, so image bytes are not pushed here (the OCI tests push for real);
manifests are registered with put_image, as a push would leave them.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from support.helpers import task_context

from ml_lifecycle import ImageInRegistrySensor, PushToECROperator
from ml_lifecycle.aws_clients import client_factory
from ml_lifecycle.errors import RegistryError
from ml_lifecycle.registries.ecr import EcrRegistry, RepositorySettings
from ml_lifecycle.registries.resolve import registry_for

ACCOUNT = "123456789012"
POLICY = {"rules": [{"rulePriority": 1, "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan",
                     "countNumber": 5}, "action": {"type": "expire"}}]}  # fmt: skip


def _manifest(config_digest: str) -> str:
    """A Docker schema 2 manifest whose config is the given digest (an engine's image id).

    :param config_digest: ``sha256:...``.
    """
    layer = "sha256:" + hashlib.sha256(config_digest.encode()).hexdigest()
    return json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1, "digest": config_digest},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 1, "digest": layer}],
    })  # fmt: skip


def _ecr(aws_conn: str, **settings) -> EcrRegistry:
    """An EcrRegistry through the Airflow connection to moto.

    :param aws_conn: the connection id.
    :param settings: RepositorySettings fields.
    """
    return EcrRegistry(client_factory("ecr", aws_conn), settings=RepositorySettings(**settings))


def test_a_missing_repository_is_created_with_the_settings(aws_conn, ecr_client, fresh_repository):
    name = fresh_repository()
    uri = _ecr(aws_conn, encryption="KMS", kms_key="alias/images", lifecycle_policy=POLICY).repository_uri(name)

    described = ecr_client.describe_repositories(repositoryNames=[name])["repositories"][0]
    assert uri == described["repositoryUri"] == f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/{name}"
    assert described["imageScanningConfiguration"] == {"scanOnPush": True}
    assert described["imageTagMutability"] == "IMMUTABLE"
    assert described["encryptionConfiguration"] == {"encryptionType": "KMS", "kmsKey": "alias/images"}
    assert json.loads(ecr_client.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"]) == POLICY


def test_an_existing_repository_is_left_as_it_is(aws_conn, ecr_client, fresh_repository):
    name = fresh_repository()
    ecr_client.create_repository(repositoryName=name, imageTagMutability="MUTABLE")
    registry = _ecr(aws_conn, lifecycle_policy=POLICY)

    registry.repository_uri(name)

    assert registry.tags_are_immutable(name) is False
    with pytest.raises(ecr_client.exceptions.LifecyclePolicyNotFoundException):
        ecr_client.get_lifecycle_policy(repositoryName=name)


def test_login_uses_the_authorization_token(aws_conn):
    login = _ecr(aws_conn).login()
    assert login.username == "AWS" and login.password
    assert login.host == f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
    assert _ecr(aws_conn).auth_config() == {"username": "AWS", "password": login.password}


def test_lookup_and_confirm_read_what_put_image_registered(aws_conn, ecr_client, fresh_repository):
    name, config = fresh_repository(), "sha256:" + "c" * 64
    registry = _ecr(aws_conn)
    registry.repository_uri(name)
    digest = ecr_client.put_image(repositoryName=name, imageManifest=_manifest(config), imageTag="v1")["image"][
        "imageId"
    ]["imageDigest"]

    assert registry.lookup(name, "v1") == registry.lookup(name, digest)
    assert registry.lookup(name, "v1").digest == digest
    assert registry.lookup(name, "v1").config_digest == config
    assert registry.lookup(name, "v2") is None
    assert registry.lookup(fresh_repository(), "v1") is None
    registry.confirm(name, digest, "v1")
    with pytest.raises(RegistryError, match="not under the tag 'v2'"):
        registry.confirm(name, digest, "v2")
    with pytest.raises(RegistryError, match="does not confirm"):
        registry.confirm(name, "sha256:" + "0" * 64, "v1")


def test_ecr_hosts_and_cross_account_ids_choose_ecr(aws_conn, ecr_client, fresh_repository):
    host = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
    by_host = registry_for(host, aws_conn_id=aws_conn)
    by_id = registry_for(None, aws_conn_id=aws_conn, registry_id=ACCOUNT)
    assert isinstance(by_host, EcrRegistry) and by_host.registry_id == ACCOUNT
    assert isinstance(by_id, EcrRegistry) and by_id.registry_id == ACCOUNT
    name = fresh_repository()
    assert by_host.repository_uri(name) == f"{host}/{name}"
    assert ecr_client.describe_repositories(repositoryNames=[name], registryId=ACCOUNT)["repositories"]


def test_sensor_finds_an_ecr_image_by_tag(aws_conn, ecr_client, fresh_repository):
    name, config = fresh_repository(), "sha256:" + "d" * 64
    sensor = ImageInRegistrySensor(task_id="wait", image=f"{name}:v1", aws_conn_id=aws_conn)
    assert sensor.poke(task_context()).is_done is False
    ecr_client.create_repository(repositoryName=name)
    digest = ecr_client.put_image(repositoryName=name, imageManifest=_manifest(config), imageTag="v1")["image"][
        "imageId"
    ]["imageDigest"]

    answer = sensor.poke(task_context())

    assert answer.is_done is True
    uri = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/{name}@{digest}"
    assert answer.xcom_value == {"image_uri": uri, "digest": digest}


@pytest.mark.docker
def test_push_of_an_image_ecr_holds_already_sends_nothing(
    aws_conn, ecr_client, small_image, docker_client, fresh_repository
):
    name = fresh_repository()
    ecr_client.create_repository(repositoryName=name)
    image_id = docker_client.images.get(small_image).id
    digest = ecr_client.put_image(repositoryName=name, imageManifest=_manifest(image_id), imageTag="v1")["image"][
        "imageId"
    ]["imageDigest"]

    result = PushToECROperator(
        task_id="push", image=small_image, repository=name, tag="v1", aws_conn_id=aws_conn
    ).execute(task_context())

    assert result["pushed"] is False
    assert result["image_uri"] == f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/{name}@{digest}"


@pytest.mark.docker
def test_an_immutable_tag_naming_another_image_is_a_clear_error(aws_conn, ecr_client, small_image, fresh_repository):
    name = fresh_repository()
    ecr_client.create_repository(repositoryName=name, imageTagMutability="IMMUTABLE")
    ecr_client.put_image(repositoryName=name, imageManifest=_manifest("sha256:" + "e" * 64), imageTag="v1")

    operator = PushToECROperator(task_id="push", image=small_image, repository=name, tag="v1", aws_conn_id=aws_conn)
    with pytest.raises(RegistryError, match=r"tag 'v1' .* is immutable and names another image.*new tag"):
        operator.execute(task_context())
