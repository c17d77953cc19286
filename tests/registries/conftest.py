"""Fixtures for the registry tests: moto's ECR API, an htpasswd-protected registry, a small unique image."""

from __future__ import annotations

import json
import os
import shutil
import socket
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
from support.ecr_lookalike import ECR_ACCOUNT, ECR_LOOKALIKE_IP, OTHER_ACCOUNT
from support.moto import answers, aws_connection, free_port, stop

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


def serve_registry(
    folder: Path, addr: str, user: str, password: str, tls: tuple[Path, Path] | None = None
) -> subprocess.Popen[bytes]:
    """Start Debian's docker-registry with htpasswd authentication; return the process once /v2/ answers.

    :param folder: its data, configuration and log folder.
    :param addr: ``ip:port`` it listens on.
    :param user: the accepted login.
    :param password: its password.
    :param tls: (certificate, key) to serve HTTPS, or None for HTTP.
    """
    program = shutil.which("docker-registry")
    if program is None:
        pytest.fail("docker-registry is missing although the registry fixture ran (scripts/bootstrap.sh registry)")
    (folder / "htpasswd").write_text(f"{user}:{_bcrypt(password)}\n")
    http: dict[str, Any] = {"addr": addr, "secret": uuid.uuid4().hex}
    if tls is not None:
        http["tls"] = {"certificate": str(tls[0]), "key": str(tls[1])}
    config = {
        "version": 0.1,
        "log": {"level": "warn"},
        "storage": {"filesystem": {"rootdirectory": str(folder / "data")}, "delete": {"enabled": True}},
        "http": http,
        "auth": {"htpasswd": {"realm": "ml-lifecycle-test", "path": str(folder / "htpasswd")}},
    }
    (folder / "config.yml").write_text(json.dumps(config))  # YAML is a superset of JSON
    with (folder / "registry.log").open("ab") as log:
        process = subprocess.Popen([program, "serve", str(folder / "config.yml")], stdout=log, stderr=log)
    deadline = time.monotonic() + REGISTRY_START_TIMEOUT_S
    while not (_listening(addr) if tls else answers(f"http://{addr}/v2/")):
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            pytest.fail(f"the htpasswd registry did not start:\n{(folder / 'registry.log').read_text()[-2000:]}")
        time.sleep(0.05)
    return process


def _listening(addr: str) -> bool:
    """Say whether something accepts TCP connections at ip:port.

    :param addr: ``ip:port``.
    """
    host, port = addr.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def ecr_lookalike(registry: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """An HTTPS registry answering as the ECR hosts of two accounts in us-east-1 (through /etc/hosts) that accepts
    only the login moto's GetAuthorizationToken gives for the first (``AWS`` / ``<account>-auth-token``), as ECR
    accepts only its own tokens; returns (the first host, the other host)."""
    if os.geteuid() != 0:
        pytest.skip("the ECR lookalike maps ECR host names in /etc/hosts and listens on port 443: run as root")
    hosts = tuple(f"{account}.dkr.ecr.us-east-1.amazonaws.com" for account in (ECR_ACCOUNT, OTHER_ACCOUNT))
    folder = tmp_path_factory.mktemp("ecr-lookalike")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={hosts[0]}",
         "-addext", "subjectAltName=" + ",".join(f"DNS:{h}" for h in hosts), "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    _unmap_hosts()  # lines a killed run left behind
    with Path("/etc/hosts").open("a") as etc_hosts:
        etc_hosts.write("".join(f"{ECR_LOOKALIKE_IP} {h} {HOSTS_MARK}\n" for h in hosts))
    try:
        process = serve_registry(folder, f"{ECR_LOOKALIKE_IP}:443", "AWS", f"{ECR_ACCOUNT}-auth-token", (cert, key))
        try:
            yield hosts  # type: ignore[misc]
        finally:
            stop(process)
    finally:
        _unmap_hosts()


HOSTS_MARK = "# ml-lifecycle-test ecr-lookalike"


def _unmap_hosts() -> None:
    """Remove the lookalike's lines (and only those) from /etc/hosts."""
    etc_hosts = Path("/etc/hosts")
    lines = etc_hosts.read_text().splitlines(keepends=True)
    kept = [line for line in lines if HOSTS_MARK not in line]
    if kept != lines:
        etc_hosts.write_text("".join(kept))


@pytest.fixture(scope="session")
def auth_registry(registry: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthRegistry]:
    """A second distribution registry (Debian's docker-registry) with htpasswd authentication on 127.0.0.1."""
    user, password, port = "alice", uuid.uuid4().hex, free_port()
    process = serve_registry(tmp_path_factory.mktemp("auth-registry"), f"127.0.0.1:{port}", user, password)
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
    monkeypatch.setenv("AIRFLOW_CONN_MOTO_AWS", aws_connection(moto_server))
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
