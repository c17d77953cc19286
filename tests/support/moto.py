"""A real moto server subprocess (any AWS API moto serves: S3, ECR, ...) for tests, as a pytest fixture.

Import the fixture into a test folder's conftest.py: ``from support.moto import moto_server  # noqa: F401``.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

MOTO_START_TIMEOUT_S = 30.0
MOTO_START_ATTEMPTS = 3
AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
AWS_UNSET_ENV = (
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL_ECR",
)


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(url: str) -> bool:
    """Say whether an HTTP server answers at url (any status counts).

    :param url: the address to probe.
    """
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def start_moto(log_path: Path, listen: str = "127.0.0.1") -> tuple[subprocess.Popen[bytes], str]:
    """Start `python -m moto.server` on a free port and wait (polling) until it answers; return it and its loopback URL.

    :param log_path: where the server's output goes.
    :param listen: the address it listens on (``0.0.0.0`` for containers to reach it through their gateway).
    """
    for _attempt in range(MOTO_START_ATTEMPTS):
        port = free_port()
        endpoint_url = f"http://127.0.0.1:{port}"
        with log_path.open("ab") as log_file:
            process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-p", str(port), "-H", listen],
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        deadline_s = time.monotonic() + MOTO_START_TIMEOUT_S
        while time.monotonic() < deadline_s and process.poll() is None:
            if answers(f"{endpoint_url}/moto-api/"):
                return process, endpoint_url
            time.sleep(0.05)
        stop(process)  # exited (e.g. the port was taken meanwhile) or too slow: try another port
    raise RuntimeError(f"moto server did not start; see {log_path}:\n{log_path.read_text()[-2000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a server process, killing it if it does not exit in time.

    :param process: the process.
    """
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Run a moto server as a real subprocess for the session (test AWS credentials set) and yield its URL."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name, value in AWS_TEST_ENV.items():
            monkeypatch.setenv(name, value)
        for name in AWS_UNSET_ENV:
            monkeypatch.delenv(name, raising=False)
        process, endpoint_url = start_moto(tmp_path_factory.mktemp("moto") / "moto.log")
        try:
            yield endpoint_url
        finally:
            stop(process)


def aws_connection(endpoint: str) -> str:
    """Return an Airflow AWS connection (JSON, for an AIRFLOW_CONN_* variable) whose endpoint is the moto server.

    :param endpoint: the moto server's URL.
    """
    import json

    extra = {"endpoint_url": endpoint, "region_name": "us-east-1"}
    return json.dumps({"conn_type": "aws", "login": "testing", "password": "testing", "extra": extra})


@pytest.fixture
def s3(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A boto3 S3 client on the moto server with a bucket ml-bucket, and aws_default pointing there too."""
    import boto3

    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", aws_connection(moto_server))
    client = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    client.create_bucket(Bucket="ml-bucket")
    return client
