"""Fixtures for the store tests: a real moto S3 server subprocess and one case per store kind."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ml_lifecycle.core.uris import ArtifactUri
from ml_lifecycle.stores import ArtifactStore, FileStore, S3Store

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
)


def _free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
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


def _start_moto(log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start `python -m moto.server` on a free port and wait (polling) until it answers.

    :param log_path: where the server's output goes.
    """
    for _attempt in range(MOTO_START_ATTEMPTS):
        port = _free_port()
        endpoint_url = f"http://127.0.0.1:{port}"
        with log_path.open("ab") as log_file:
            process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-p", str(port), "-H", "127.0.0.1"],
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        deadline_s = time.monotonic() + MOTO_START_TIMEOUT_S
        while time.monotonic() < deadline_s and process.poll() is None:
            if _answers(f"{endpoint_url}/moto-api/"):
                return process, endpoint_url
            time.sleep(0.05)
        _stop(process)  # exited (e.g. the port was taken meanwhile) or too slow: try another port
    raise RuntimeError(f"moto server did not start; see {log_path}:\n{log_path.read_text()[-2000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
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
    """Run moto's S3 server as a real subprocess for the session and yield its endpoint URL."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name, value in AWS_TEST_ENV.items():
            monkeypatch.setenv(name, value)
        for name in AWS_UNSET_ENV:
            monkeypatch.delenv(name, raising=False)
        process, endpoint_url = _start_moto(tmp_path_factory.mktemp("moto") / "moto.log")
        try:
            yield endpoint_url
        finally:
            _stop(process)


@pytest.fixture
def s3_client(moto_server: str) -> Any:
    """Return a plain boto3 S3 client on the moto server."""
    import boto3

    return boto3.session.Session().client(
        "s3",
        endpoint_url=moto_server,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def bucket(s3_client: Any) -> str:
    """Create a fresh, empty bucket and return its name."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name)
    return name


@dataclass(frozen=True)
class StoreCase:
    """A store under test and the (empty) root below which a test may write.

    :param kind: ``file`` or ``s3``.
    :param store: the store.
    :param root: an empty location in it.
    """

    kind: str
    store: ArtifactStore
    root: ArtifactUri


def _file_case(request: pytest.FixtureRequest, tmp_path: Path) -> StoreCase:
    """Build a FileStore case on tmp_path.

    :param request: the fixture request (unused; same signature as the S3 builder).
    :param tmp_path: the test's temp folder.
    """
    return StoreCase("file", FileStore(), ArtifactUri("file", "", str(tmp_path / "store")))


def _s3_case(request: pytest.FixtureRequest, tmp_path: Path) -> StoreCase:
    """Build an S3Store case on a fresh moto bucket.

    :param request: the fixture request, to start moto only for S3 cases.
    :param tmp_path: the test's temp folder (unused).
    """
    client = request.getfixturevalue("s3_client")
    name = request.getfixturevalue("bucket")
    return StoreCase("s3", S3Store(lambda: client), ArtifactUri("s3", name, "store"))


STORE_BUILDERS: dict[str, Callable[[pytest.FixtureRequest, Path], StoreCase]] = {
    "file": _file_case,
    "s3": _s3_case,
}


@pytest.fixture(params=sorted(STORE_BUILDERS))
def case(request: pytest.FixtureRequest, tmp_path: Path) -> StoreCase:
    """Yield each store kind in turn (FileStore on tmp_path, S3Store on a fresh moto bucket)."""
    return STORE_BUILDERS[request.param](request, tmp_path)
