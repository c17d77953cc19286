"""Image pulls with credentials, from an engine that lacks the image: ECR images with a token asked through the
Airflow AWS connection for the image's own account and region (moto's token, checked by a registry that answers as
ECR), other registries with an Airflow connection's login; refusals name the registry, the credentials tried and
the fix. moto checks no IAM permission: only that the token is asked for the right account and region, and used."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from support.ecr_lookalike import ECR_ACCOUNT, OTHER_ACCOUNT
from support.helpers import task_context

from ml_lifecycle import TrainOnEC2Operator
from ml_lifecycle.compute.ec2.launcher import check_registry_login
from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine
from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.errors import ImageNotFound, RegistryError
from ml_lifecycle.registries.pull_login import PullLogins

pytestmark = pytest.mark.docker


def _pushed_then_removed(docker_client: Any, tmp_path: Path, repository: str, auth: dict[str, str]) -> str:
    """Build an image no engine has seen, push it, remove it from this engine; return repository:tag.

    :param docker_client: a docker SDK client.
    :param tmp_path: a scratch folder.
    :param repository: ``host/path`` to push to.
    :param auth: the push's login.
    """
    (tmp_path / "Dockerfile").write_text(f"FROM python:3.11-slim\nRUN echo {uuid.uuid4().hex} > /unique.txt\n")
    image, _ = docker_client.images.build(path=str(tmp_path), tag=f"{repository}:v1", rm=True)
    for line in docker_client.images.push(repository, tag="v1", auth_config=auth, stream=True, decode=True):
        assert "error" not in line, line
    docker_client.images.remove(image.id, force=True)
    return f"{repository}:v1"


def test_an_ecr_image_is_pulled_with_a_token_for_its_account_asked_through_the_aws_connection(
    ecr_lookalike, aws_conn, docker_client, tmp_path
):
    host, _ = ecr_lookalike
    ref = _pushed_then_removed(
        docker_client, tmp_path, f"{host}/sagemaker-scikit-learn", {"username": "AWS", "password": f"{ECR_ACCOUNT}-auth-token"}
    )  # fmt: skip

    with pytest.raises(ImageNotFound, match=f"pulling it from {host} with no login from Airflow"):
        DockerEngine().ensure_image(ref)  # as before: the engine alone has no login
    pulled = DockerEngine().ensure_image(ref, PullLogins(aws_conn_id=aws_conn))

    assert pulled.digest.startswith(f"{host}/sagemaker-scikit-learn@sha256:")
    docker_client.images.remove(pulled.image_id, force=True)


def test_a_token_the_registry_refuses_names_the_registry_the_credentials_and_the_fix(
    ecr_lookalike, aws_conn, docker_client, tmp_path
):
    _, other = ecr_lookalike  # moto's token for this account is not the one the registry accepts
    with pytest.raises(ImageNotFound) as refused:
        DockerEngine().ensure_image(f"{other}/model:v1", PullLogins(aws_conn_id=aws_conn))
    message = str(refused.value)
    assert f"pulling it from {other} with" in message
    assert f"an ECR authorization token for account {OTHER_ACCOUNT} in us-east-1" in message
    assert f"the Airflow connection {aws_conn!r}" in message
    assert "ecr:GetAuthorizationToken, ecr:BatchGetImage and ecr:GetDownloadUrlForLayer" in message


def test_an_ecr_token_that_cannot_be_had_leaves_the_engines_own_login_and_says_which_connection_to_fix(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_NOWHERE",
        '{"conn_type": "aws", "login": "x", "password": "y", "extra": {"endpoint_url": "http://127.0.0.1:9"}}',
    )
    login = PullLogins(aws_conn_id="nowhere").login_for(f"{ECR_ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/m:1")
    assert login.auth_config is None  # docker login or the ecr-login credential helper may still log the engine in
    assert f"an ECR authorization token for account {ECR_ACCOUNT} in eu-west-1" in login.described
    assert "could not be had" in login.described and "connection 'nowhere'" in login.advice


@pytest.mark.parametrize("host", ["index.docker.io", "https://index.docker.io/v1/", "registry-1.docker.io"])
def test_a_connection_for_docker_hub_under_any_of_its_names_logs_in_to_docker_hub(monkeypatch, host):
    monkeypatch.setenv(
        "AIRFLOW_CONN_HUB", f'{{"conn_type": "docker", "host": "{host}", "login": "me", "password": "pw"}}'
    )
    login = PullLogins(registry_conn_id="hub").login_for("team/model:1")
    assert login.auth_config == {"username": "me", "password": "pw"} and "pw" not in repr(login)


def test_a_registry_with_a_login_is_pulled_with_an_airflow_connection_in_a_training_job(
    auth_registry, registry_conn, docker_client, tmp_path, sample_data, ml_home, example_image
):
    repository = f"{auth_registry.host}/ml-lifecycle-test/pulled-{uuid.uuid4().hex[:8]}"
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "Dockerfile").write_text(f"FROM {example_image}\nRUN echo {uuid.uuid4().hex} > /unique.txt\n")
    image, _ = docker_client.images.build(path=str(tmp_path / "img"), tag=f"{repository}:v1", rm=True)
    auth = {"username": auth_registry.username, "password": auth_registry.password}
    for line in docker_client.images.push(repository, tag="v1", auth_config=auth, stream=True, decode=True):
        assert "error" not in line, line
    docker_client.images.remove(image.id, force=True)

    def train(**extra: Any) -> dict[str, Any]:
        return TrainOnEC2Operator(
            task_id="train",
            image_uri=f"{repository}:v1",
            channels={"train": f"file://{sample_data}/train"},
            output_path=f"file://{tmp_path}/out",
            max_runtime_s=300,
            **extra,
        ).execute(task_context(task_id="train"))

    with pytest.raises(Exception, match=r"no login from Airflow.*give registry_conn_id"):
        train()
    result = train(registry_conn_id=registry_conn)
    assert result["status"] == "Completed"
    docker_client.images.remove(f"{repository}:v1", force=True)


def test_a_connection_for_another_registry_is_refused_before_any_pull(auth_registry, registry_conn):
    with pytest.raises(RegistryError, match=f"holds the login of {auth_registry.host}.*not sent there"):
        PullLogins(registry_conn_id=registry_conn).login_for("ghcr.io/team/model:1")


@pytest.mark.parametrize(
    ("image", "conn", "refused"),
    [
        ("ghcr.io/team/model:1", "my_registry", True),  # instances cannot read Airflow connections
        (f"{ECR_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/m:1", "my_registry", False),  # ECR: the instance role
        ("ghcr.io/team/model:1", None, False),  # anonymous pulls work anywhere
    ],
)
def test_ec2_refuses_a_registry_login_only_airflow_holds_before_anything_launches(image, conn, refused):
    if refused:
        with pytest.raises(SpecError, match="Push the image to Amazon ECR"):
            check_registry_login(image, conn)
    else:
        check_registry_login(image, conn)
