"""Fixtures for the registry tests: moto's ECR API, an htpasswd-protected registry, a small unique image."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import moto
from support.moto import answers, free_port, stop

moto_server = moto.moto_server  # the session's moto server fixture, shared with other test folders

REGISTRY_START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class AuthRegistry:
    """A registry that needs a login.

    :param host: ``127.0.0.1:<port>``.
    :param username: the accepted login.
    :param password: its password.
    """

    host: str
    username: str
    password: str


def _bcrypt(password: str) -> str:
    """Hash a password with bcrypt, the only htpasswd format the distribution registry accepts.

    :param password: the password.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt  # glibc's libcrypt does bcrypt ($2b$); the module is deprecated but present on Python 3.11

        return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))


@pytest.fixture(scope="session")
def auth_registry(registry: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthRegistry]:
    """A second distribution registry (Debian's docker-registry) with htpasswd authentication on 127.0.0.1."""
    program = shutil.which("docker-registry")
    if program is None:
        pytest.fail("docker-registry is missing although the registry fixture ran (scripts/bootstrap.sh registry)")
    folder = tmp_path_factory.mktemp("auth-registry")
    user, password = "alice", uuid.uuid4().hex
    (folder / "htpasswd").write_text(f"{user}:{_bcrypt(password)}\n")
    port = free_port()
    config = {
        "version": 0.1,
        "log": {"level": "warn"},
        "storage": {"filesystem": {"rootdirectory": str(folder / "data")}, "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": uuid.uuid4().hex},
        "auth": {"htpasswd": {"realm": "ml-lifecycle-test", "path": str(folder / "htpasswd")}},
    }
    (folder / "config.yml").write_text(json.dumps(config))  # YAML is a superset of JSON
    with (folder / "registry.log").open("ab") as log:
        process = subprocess.Popen([program, "serve", str(folder / "config.yml")], stdout=log, stderr=log)
    deadline = time.monotonic() + REGISTRY_START_TIMEOUT_S
    while not answers(f"http://127.0.0.1:{port}/v2/"):
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            pytest.fail(f"the htpasswd registry did not start:\n{(folder / 'registry.log').read_text()[-2000:]}")
        time.sleep(0.05)
    try:
        yield AuthRegistry(f"127.0.0.1:{port}", user, password)
    finally:
        stop(process)


@pytest.fixture
def registry_conn(auth_registry: AuthRegistry, monkeypatch: pytest.MonkeyPatch) -> str:
    """An Airflow connection (environment variable, type docker) with the htpasswd registry's login."""
    value = {
        "conn_type": "docker",
        "host": auth_registry.host,
        "login": auth_registry.username,
        "password": auth_registry.password,
    }
    monkeypatch.setenv("AIRFLOW_CONN_TEST_REGISTRY", json.dumps(value))
    return "test_registry"


@pytest.fixture
def aws_conn(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """An Airflow AWS connection (environment variable) whose endpoint_url is the moto server."""
    value = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"endpoint_url": moto_server, "region_name": "us-east-1"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_MOTO_AWS", json.dumps(value))
    return "moto_aws"


@pytest.fixture
def ecr_client(moto_server: str) -> Any:
    """A plain boto3 ECR client on the moto server, to arrange and check state."""
    import boto3

    return boto3.session.Session().client(
        "ecr",
        endpoint_url=moto_server,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture(scope="session")
def small_image(docker_client: Any, example_image: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small image no registry has seen (a unique layer on the base image); returns its local reference."""
    folder: Path = tmp_path_factory.mktemp("small-image")
    (folder / "Dockerfile").write_text(f"FROM python:3.11-slim\nRUN echo {uuid.uuid4().hex} > /unique.txt\n")
    tag = f"ml-lifecycle-test/small:{uuid.uuid4().hex[:12]}"
    docker_client.images.build(path=str(folder), tag=tag, rm=True)
    return tag


@pytest.fixture
def fresh_repository() -> Callable[[], str]:
    """Return a function that makes repository paths no test used before."""
    return lambda: f"ml-lifecycle-test/repo-{uuid.uuid4().hex[:10]}"
