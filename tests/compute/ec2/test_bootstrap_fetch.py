"""The user data's S3 fetcher: botocore's SigV4 signature, and real downloads from moto with IMDSv2 credentials."""

from __future__ import annotations

import datetime
import glob
import importlib.resources
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from support.imds import InstanceIdentity, MetadataService

from ml_lifecycle.compute.ec2 import bootstrap_fetch

FIXED_TIME = datetime.datetime(2026, 11, 25, 12, 34, 56)
AMZ_DATE = "20261125T123456Z"
KEYS = [
    "staging/agent.tar.gz",
    "data/train file.csv",
    "ünïcödé/ключ 数据.bin",
    "a+b=c&d?x#y.txt",
    "$(x)/`id`;rm -rf.txt",
    "~tilde/*star*(paren)!'quote'",
    "double//slash/trailing/",
]
FETCHER_SOURCE = importlib.resources.files("ml_lifecycle.compute.ec2").joinpath("bootstrap_fetch.py").read_text()


def _botocore_authorization(
    url: str, region: str, token: str | None, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, dict[str, str]]:
    """Sign a GET of url with botocore's S3 signer at FIXED_TIME; return its Authorization and signed headers."""
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *args, **kwargs: FIXED_TIME)
    request = AWSRequest(method="GET", url=url, data=b"")
    botocore.auth.S3SigV4Auth(Credentials("AKIDEXAMPLE", "secret/key+x", token), "s3", region).add_auth(request)
    return request.headers["Authorization"], {name.lower(): value for name, value in request.headers.items()}


@pytest.mark.parametrize("token", [None, "session/token+=="], ids=["no-token", "token"])
@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize(
    ("env", "region", "bucket"),
    [
        pytest.param({"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"}, "us-east-1", "bucket", id="endpoint-with-port"),
        pytest.param({"AWS_ENDPOINT_URL_S3": "https://minio.example:443/"}, "eu-west-1", "b", id="s3-endpoint-443"),
        pytest.param({}, "eu-central-1", "my-bucket", id="aws-virtual-host"),
        pytest.param({}, "us-west-2", "my.dotted.bucket", id="aws-dotted-bucket"),
        pytest.param({}, "cn-north-1", "bucket", id="aws-china"),
    ],
)
def test_signature_equals_botocores(
    env: dict[str, str], region: str, bucket: str, key: str, token: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = bootstrap_fetch.object_url(env, region, bucket, key)
    ours = bootstrap_fetch.signed_headers(url, region, "AKIDEXAMPLE", "secret/key+x", token or "", AMZ_DATE)
    authorization, theirs = _botocore_authorization(url, region, token, monkeypatch)
    assert ours["Authorization"] == authorization
    assert ours["x-amz-date"] == theirs["x-amz-date"]
    assert ours["x-amz-content-sha256"] == theirs["x-amz-content-sha256"]
    assert ours.get("x-amz-security-token") == theirs.get("x-amz-security-token")


class _Captured(Exception):
    """Raised by the before-send hook to stop boto3 once it has built the request."""


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize(
    ("env", "region", "bucket", "client_kwargs"),
    [
        pytest.param(
            {"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"},
            "us-east-1",
            "bucket",
            {"endpoint_url": "http://127.0.0.1:4566", "config": Config(s3={"addressing_style": "path"})},
            id="path-style-endpoint",
        ),
        pytest.param(
            {}, "eu-central-1", "my-bucket", {"config": Config(s3={"addressing_style": "virtual"})}, id="virtual-host"
        ),
    ],
)
def test_object_url_equals_boto3s(
    env: dict[str, str], region: str, bucket: str, key: str, client_kwargs: dict[str, Any]
) -> None:
    client = boto3.client("s3", region_name=region, aws_access_key_id="a", aws_secret_access_key="b", **client_kwargs)
    seen: list[str] = []

    def capture(request: Any, **_: Any) -> None:
        seen.append(request.url)
        raise _Captured

    client.meta.events.register("before-send.s3.GetObject", capture)
    with pytest.raises(_Captured):
        client.get_object(Bucket=bucket, Key=key)
    assert bootstrap_fetch.object_url(env, region, bucket, key) == seen[0]


def _interpreters() -> list[str]:
    """python3 (as user data runs it) and, where installed, the oldest Python the fetcher promises to run on."""
    found = [shutil.which("python3") or "python3"]
    for candidate in [
        shutil.which("python3.9"),
        *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.9*/bin/python3.9"))),
    ]:
        if candidate and subprocess.run([candidate, "-c", "pass"], capture_output=True).returncode == 0:
            found.append(candidate)
            break
    return found


@pytest.fixture
def imds() -> Iterator[MetadataService]:
    """An IMDSv2 service for one instance whose role credentials work with moto."""
    service = MetadataService(InstanceIdentity(instance_id="i-0123456789abcdef0", region="us-east-1"))
    try:
        yield service
    finally:
        service.stop()


def _run_fetcher(python: str, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the fetcher as user data does: its source on stdin, `python3 - uri dest`."""
    return subprocess.run(
        [python, "-", *args], input=FETCHER_SOURCE, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("python", _interpreters())
def test_fetches_from_moto_with_instance_role_credentials(
    python: str, moto_server: str, imds: MetadataService, tmp_path: Path
) -> None:
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    s3.create_bucket(Bucket="mlc-fetch")
    key = "out/job-1/staging/dir with space/agent+ü.tar.gz"
    payload = os.urandom(3 * 1024 * 1024 + 17)
    s3.put_object(Bucket="mlc-fetch", Key=key, Body=payload)
    dest = tmp_path / "deep" / "agent.tar.gz"
    env = {"AWS_ENDPOINT_URL": moto_server, "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.endpoint}

    result = _run_fetcher(python, [f"s3://mlc-fetch/{key}", str(dest)], env)

    assert result.returncode == 0, result.stderr
    assert dest.read_bytes() == payload
    assert imds.state.token_requests >= 1
    assert imds.state.unauthorised_requests == 0
    assert sorted(path.name for path in dest.parent.iterdir()) == ["agent.tar.gz"]


def test_missing_object_fails_clearly_and_leaves_nothing(
    moto_server: str, imds: MetadataService, tmp_path: Path
) -> None:
    boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1").create_bucket(Bucket="mlc-fetch-missing")
    dest = tmp_path / "agent.tar.gz"
    env = {"AWS_ENDPOINT_URL": moto_server, "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.endpoint}

    result = _run_fetcher("python3", ["s3://mlc-fetch-missing/nope.tar.gz", str(dest)], env)

    assert result.returncode == 1
    assert "HTTP 404, no such object or bucket" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", [[], ["s3://b/k"], ["http://b/k", "/tmp/x"], ["s3://bucket-only", "/tmp/x"]])
def test_bad_arguments_fail(args: list[str]) -> None:
    result = _run_fetcher(
        "python3", args, {"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"}
    )
    assert result.returncode in (1, 2)
    assert "s3://bucket/key" in result.stderr


class _FlakyStore:
    """An HTTP server that answers the first GET with 503 and the next with the object; it records headers."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.requests: list[dict[str, str]] = []
        store = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_GET(self) -> None:
                store.requests.append({name.lower(): value for name, value in self.headers.items()})
                status, data = (503, b"SlowDown") if len(store.requests) == 1 else (200, store.body)
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


def test_retries_a_5xx_and_uses_credentials_from_the_environment(tmp_path: Path) -> None:
    store = _FlakyStore(b"bundle bytes")
    dest = tmp_path / "agent.tar.gz"
    env = {
        "AWS_ENDPOINT_URL_S3": store.url,
        "AWS_ENDPOINT_URL": "http://127.0.0.1:1",  # the S3-specific endpoint wins
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:1/",  # never asked: region and keys are in env
        "AWS_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "AKIDENV",
        "AWS_SECRET_ACCESS_KEY": "env-secret",
        "AWS_SESSION_TOKEN": "env-token",
    }
    try:
        result = _run_fetcher("python3", ["s3://bucket/k.tar.gz", str(dest)], env)
    finally:
        store.server.shutdown()
    assert result.returncode == 0, result.stderr
    assert dest.read_bytes() == b"bundle bytes"
    assert len(store.requests) == 2
    assert "attempt 1 failed (HTTP 503)" in result.stderr
    last = store.requests[-1]
    assert last["x-amz-security-token"] == "env-token"
    assert last["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDENV/")
    assert "/eu-west-1/s3/aws4_request" in last["authorization"]


def test_source_parses_as_python_3_9() -> None:
    import ast

    ast.parse(FETCHER_SOURCE, feature_version=(3, 9))
    assert "ML_LIFECYCLE_FETCH" not in FETCHER_SOURCE
