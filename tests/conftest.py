"""Shared fixtures: the Docker engine, the example image, sample data, and a minimal Airflow task context."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONTEXT = REPO_ROOT / "examples" / "containers" / "linear"
EXAMPLE_IMAGE = "ml-lifecycle-test/linear:test"
TOOLKIT_CONTEXT = REPO_ROOT / "examples" / "containers" / "toolkit"
PROCESSING_CONTEXT = REPO_ROOT / "examples" / "containers" / "processing"
PROCESSING_IMAGE = "ml-lifecycle-test/split:test"
TOOLKIT_IMAGE = "ml-lifecycle-test/toolkit:test"
CURVE_CONTEXT = REPO_ROOT / "examples" / "containers" / "curve"
CURVE_IMAGE = "ml-lifecycle-test/curve:test"


def _engine_or_skip() -> Any:
    """Return a docker client, or skip (fail under CI) when no engine answers."""
    import docker

    try:
        client = docker.from_env(timeout=300)
        client.ping()
    except docker.errors.DockerException as err:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs a Docker engine (scripts/bootstrap.sh engine): {err}")
        pytest.skip(f"no Docker engine answers: {err}")
    return client


def _base_image(docker_client: Any) -> str:
    """Return the base image the example Dockerfiles build on, built offline by the bootstrap when it is missing.

    :param docker_client: a docker SDK client.
    """
    base = os.environ.get("BASE_IMAGE", "python:3.11-slim")
    try:
        docker_client.images.get(base)
    except Exception:
        subprocess.run(["bash", str(REPO_ROOT / "scripts" / "bootstrap.sh"), "base-image"], check=True)
    return base


@pytest.fixture(scope="session")
def docker_client() -> Any:
    """A docker SDK client for the engine the tests run on."""
    return _engine_or_skip()


@pytest.fixture(scope="session")
def example_image(docker_client: Any) -> str:
    """The example SageMaker-compatible image (train and serve), built once per session."""
    base = _base_image(docker_client)
    docker_client.images.build(path=str(EXAMPLE_CONTEXT), tag=EXAMPLE_IMAGE, buildargs={"BASE_IMAGE": base}, rm=True)
    return EXAMPLE_IMAGE


@pytest.fixture(scope="session")
def processing_image(docker_client: Any) -> str:
    """The example SageMaker Processing image (a train/validation split), built offline once per session."""
    base = _base_image(docker_client)
    docker_client.images.build(
        path=str(PROCESSING_CONTEXT), tag=PROCESSING_IMAGE, buildargs={"BASE_IMAGE": base}, rm=True
    )
    return PROCESSING_IMAGE


@pytest.fixture(scope="session")
def curve_image(docker_client: Any) -> str:
    """The tuning example image: a loss curve that is a known function of its hyperparameters, built once."""
    base = _base_image(docker_client)
    docker_client.images.build(path=str(CURVE_CONTEXT), tag=CURVE_IMAGE, buildargs={"BASE_IMAGE": base}, rm=True)
    return CURVE_IMAGE


@pytest.fixture(scope="session")
def registry() -> str:
    """The local OCI registry on 127.0.0.1:5000, started when it is not running."""
    import urllib.request

    try:
        urllib.request.urlopen("http://127.0.0.1:5000/v2/", timeout=2).read()
    except OSError:
        subprocess.run(["bash", str(REPO_ROOT / "scripts" / "bootstrap.sh"), "registry"], check=True)
    return "127.0.0.1:5000"


@pytest.fixture(scope="session")
def sample_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's synthetic dataset: train/, validation/ and score/ folders."""
    out = tmp_path_factory.mktemp("data")
    subprocess.run(
        [sys.executable, str(REPO_ROOT / "examples" / "data" / "generate.py"), "--out", str(out), "--rows", "2000"],
        check=True,
        capture_output=True,
    )
    return out


@pytest.fixture
def ml_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private ML_LIFECYCLE_HOME (work dirs, endpoint records) for one test."""
    home = tmp_path / "ml-home"
    monkeypatch.setenv("ML_LIFECYCLE_HOME", str(home))
    monkeypatch.delenv("ML_LIFECYCLE_WORK_DIR", raising=False)
    return home


@pytest.fixture(scope="session")
def toolkit_image(docker_client: Any) -> str:
    """The sagemaker-training toolkit image: wheels fetched on the host (the build is offline), built once."""
    base = _base_image(docker_client)
    subprocess.run(["bash", str(REPO_ROOT / "scripts" / "fetch-toolkit-wheels.sh")], check=True)
    docker_client.images.build(path=str(TOOLKIT_CONTEXT), tag=TOOLKIT_IMAGE, buildargs={"BASE_IMAGE": base}, rm=True)
    return TOOLKIT_IMAGE


@pytest.fixture(scope="session")
def serving_framework_image(docker_client: Any, toolkit_image: str) -> str:
    """AWS's serving stack (sagemaker-inference on multi-model-server, from PyPI) on the toolkit image's base, once."""
    from support.serving_image import serving_image

    return serving_image(docker_client, os.environ.get("BASE_IMAGE", "python:3.11-slim"))
