"""Fixtures for EC2 emulation (moto server, the Airflow AWS connection, an image in the registry, the emulator)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from support.ec2_emulator import EMULATOR_LABEL, Ec2Emulator
from support.helpers import managed_containers
from support.moto import aws_connection, moto_server  # noqa: F401

REGION = "us-east-1"
BUCKET = "ml-bucket"
INSTANCE_PROFILE = "ml-lifecycle-instance"
EMULATED_IMAGE_REPOSITORY = "127.0.0.1:5000/ml-lifecycle-test/linear-emulated"


@pytest.fixture
def aws(
    moto_server: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> SimpleNamespace:
    """boto3 clients on the moto server, aws_default pointing there, a bucket and an instance profile."""
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", aws_connection(moto_server))
    clients = {
        name: boto3.client(name, endpoint_url=moto_server, region_name=REGION)
        for name in ("s3", "ec2", "iam", "logs", "ssm")
    }
    clients["s3"].create_bucket(Bucket=BUCKET)
    with contextlib.suppress(clients["iam"].exceptions.EntityAlreadyExistsException):  # the moto server outlives a test
        clients["iam"].create_instance_profile(InstanceProfileName=INSTANCE_PROFILE)
    return SimpleNamespace(endpoint=moto_server, **clients)


@pytest.fixture(scope="session")
def pushed_image(example_image: str, registry: str, docker_client: Any) -> str:
    """The example image pushed to the local registry, by digest (as PushToECR hands it on)."""
    return push_to_registry(docker_client, example_image, EMULATED_IMAGE_REPOSITORY)


@pytest.fixture(scope="session")
def pushed_toolkit_image(toolkit_image: str, registry: str, docker_client: Any) -> str:
    """The sagemaker-training toolkit image (boto3 inside) pushed to the local registry, by digest."""
    return push_to_registry(docker_client, toolkit_image, f"{EMULATED_IMAGE_REPOSITORY}-toolkit")


@pytest.fixture(scope="session")
def pushed_framework_image(toolkit_image: str, registry: str, docker_client: Any) -> str:
    """The framework-like image (toolkit, pip, no code inside) pushed to the local registry, by digest."""
    from support.framework_image import framework_image

    return push_to_registry(
        docker_client, framework_image(docker_client, toolkit_image), f"{EMULATED_IMAGE_REPOSITORY}-framework"
    )


@pytest.fixture(scope="session")
def pushed_serving_image(serving_framework_image: str, registry: str, docker_client: Any) -> str:
    """AWS's serving stack image (sagemaker-inference on multi-model-server) pushed to the local registry, by digest."""
    return push_to_registry(docker_client, serving_framework_image, f"{EMULATED_IMAGE_REPOSITORY}-serving")


def push_to_registry(docker_client: Any, image_ref: str, repository: str) -> str:
    """Push an image to the local registry as <repository>:test; return its reference by digest.

    :param docker_client: a docker SDK client.
    :param image_ref: the image.
    :param repository: the repository in the local registry.
    """
    image = docker_client.images.get(image_ref)
    image.tag(repository, tag="test")
    for line in docker_client.images.push(repository, tag="test", stream=True, decode=True):
        if "error" in line:
            raise RuntimeError(f"push failed: {line['error']}")
    digests = docker_client.images.get(f"{repository}:test").attrs["RepoDigests"]
    return next(d for d in digests if d.startswith(repository))


@pytest.fixture(scope="session", autouse=True)
def no_emulated_instance_left(docker_client: Any) -> Iterator[None]:
    """After the session, no emulated instance's container is left on the engine (each test checks its own)."""
    yield
    left = docker_client.containers.list(all=True, filters={"label": EMULATOR_LABEL})
    assert left == [], f"emulated instances were left on the engine: {[c.name for c in left]}"


@pytest.fixture
def emulator(
    request: pytest.FixtureRequest, docker_client: Any, aws: SimpleNamespace, tmp_path: Path, ml_home: Path
) -> Iterator[Ec2Emulator]:
    """Boot moto's instances in containers; afterwards nothing of ours runs, in moto or on the engine.

    Parametrize it indirectly with the seconds one minute of ``shutdown -h +N`` lasts (default 10).
    """
    seconds_per_minute = float(getattr(request, "param", 10.0))
    with Ec2Emulator(
        docker_client, aws.ec2, aws.endpoint, tmp_path / "ec2", seconds_per_minute=seconds_per_minute
    ) as emulator:
        yield emulator
    alive = aws.ec2.describe_instances(
        Filters=[
            {"Name": "tag:ml-lifecycle.managed", "Values": ["true"]},
            {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]},
        ]
    )["Reservations"]
    assert alive == [], "an instance was left running in moto"
    for job in {instance.job_name for instance in emulator.instances.values()}:
        assert managed_containers(docker_client, job=job) == [], f"containers of {job} were left on the engine"
    # This emulator's instances only: a container another test leaked is that test's failure, not this one's.
    for instance_id in emulator.instances:
        left = docker_client.containers.list(all=True, filters={"label": f"{EMULATOR_LABEL}={instance_id}"})
        assert left == [], f"the container of emulated instance {instance_id} was left on the engine"


def emulated_deploy(aws: SimpleNamespace, name: str, image: str, folder: Path, **extra: Any) -> Any:
    """Return a DeployEndpointOperator of one emulated EC2 instance serving a linear model of 8 ones uploaded to S3.

    :param aws: the clients (the aws fixture).
    :param name: the endpoint's name.
    :param image: the serving image, pushed to the local registry.
    :param folder: a scratch folder for the model archive.
    :param extra: more operator parameters (e.g. data_capture).
    """
    from ml_lifecycle import DeployEndpointOperator
    from support.models import linear_model_archive

    archive = linear_model_archive(folder / "model.tar.gz", [1.0] * 8)
    aws.s3.upload_file(archive.removeprefix("file://"), BUCKET, f"{name}/model.tar.gz")
    return DeployEndpointOperator(
        task_id="deploy",
        endpoint_name=name,
        image_uri=image,
        model_uri=f"s3://{BUCKET}/{name}/model.tar.gz",
        compute="ec2",
        instance_count=1,
        ec2_settings={"instance_profile": INSTANCE_PROFILE},
        poll_interval_s=0.5,
        **extra,
    )
