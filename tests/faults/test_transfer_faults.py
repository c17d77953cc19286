"""Transfers under faults: the S3 endpoint going away mid-upload, the registry down during a push."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config
from support.moto import answers, free_port, stop
from support.tcp_proxy import CuttableProxy

from ml_lifecycle import PushToECROperator
from ml_lifecycle.core.uris import parse_uri
from ml_lifecycle.errors import RegistryError, StoreError
from ml_lifecycle.stores.s3_store import S3Store

MB = 1024 * 1024


def test_an_upload_cut_midway_leaves_no_object_and_a_retry_succeeds(moto_server):
    target = urlsplit(moto_server)
    proxy = CuttableProxy(target.hostname or "127.0.0.1", target.port or 80)
    endpoint = f"http://127.0.0.1:{proxy.port}"
    retries = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=2, read_timeout=5)
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", config=retries)
    boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1").create_bucket(Bucket="cut-test")
    store = S3Store(lambda: client)
    uri = parse_uri("s3://cut-test/model/model.tar.gz")

    def chunks_then_cut() -> Iterator[bytes]:
        for index in range(5):
            if index == 2:
                proxy.cut()
            yield bytes([index]) * (8 * MB)

    try:
        with pytest.raises(StoreError):
            store.write_chunks(uri, chunks_then_cut())
        proxy.restore()
        assert store.list_objects(parse_uri("s3://cut-test/model")) == []

        store.write_chunks(uri, (bytes([i]) * (8 * MB) for i in range(5)))
        assert b"".join(store.iter_chunks(uri)) == b"".join(bytes([i]) * (8 * MB) for i in range(5))
    finally:
        proxy.close()


@pytest.fixture
def own_registry(tmp_path):
    """A registry of our own on a free port, with start and stop, so the shared one stays up."""
    program = shutil.which("docker-registry")
    if program is None:
        pytest.fail("docker-registry is missing: run scripts/bootstrap.sh registry")
    port = free_port()
    config = {
        "version": 0.1,
        "log": {"level": "warn"},
        "storage": {"filesystem": {"rootdirectory": str(tmp_path / "data")}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": uuid.uuid4().hex},
    }
    (tmp_path / "config.yml").write_text(json.dumps(config))
    processes: list[subprocess.Popen] = []

    def start() -> None:
        processes.append(
            subprocess.Popen(
                [program, "serve", str(tmp_path / "config.yml")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        )
        deadline = time.monotonic() + 30
        while not answers(f"http://127.0.0.1:{port}/v2/"):
            if time.monotonic() > deadline:
                pytest.fail("the registry did not start within 30 s")
            time.sleep(0.05)

    def halt() -> None:
        for process in processes:
            stop(process)

    yield f"127.0.0.1:{port}", start, halt
    halt()


@pytest.mark.docker
def test_a_push_while_the_registry_is_down_fails_clearly_and_a_retry_succeeds(example_image, own_registry):
    address, start, halt = own_registry
    push = dict(task_id="push", image=example_image, repository="faults/pushed", registry=address, tag="v1")
    with pytest.raises(RegistryError, match="registry"):
        PushToECROperator(**push).execute({"ti": None, "run_id": "faults"})

    start()
    pushed = PushToECROperator(**push).execute({"ti": None, "run_id": "faults"})
    assert pushed["image_uri"].startswith(f"{address}/faults/pushed@sha256:")
    halt()
