"""client_factory builds boto3 clients from the Airflow AWS connection, outside a running task too."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from support.moto import aws_connection

from ml_lifecycle.aws_clients import client_factory
from ml_lifecycle.stores import store_for


@pytest.fixture
def aws_default_env(moto_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Point AIRFLOW_CONN_AWS_DEFAULT (JSON form, endpoint_url in extra) at the moto server."""
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", aws_connection(moto_server))
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))  # only matters if Airflow loads first here
    return moto_server


def test_connection_env_var_is_honoured_outside_a_task(aws_default_env: str, s3_client: Any) -> None:
    """Objects written through the connection's client are visible to a plain client on the same endpoint."""
    factory = client_factory("s3")
    client = factory()
    assert client.meta.endpoint_url == aws_default_env
    bucket = f"conn-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    store = store_for(f"s3://{bucket}/a", s3_client_factory=factory)
    store.write_bytes(f"s3://{bucket}/a/b.txt", b"through the connection")
    body = s3_client.get_object(Bucket=bucket, Key="a/b.txt")["Body"].read()
    assert body == b"through the connection"


def test_older_task_sdk_fallback_reads_the_env_var(aws_default_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the hook cannot look connections up outside a task (Task SDK before the fallback chain), the
    AIRFLOW_CONN_<ID> variable is read directly instead of silently dropping endpoint_url."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    def no_supervisor(cls: type, conn_id: str) -> Any:
        raise ImportError("cannot import name 'SUPERVISOR_COMMS' from 'airflow.sdk.execution_time.task_runner'")

    monkeypatch.setattr(AwsBaseHook, "get_connection", classmethod(no_supervisor))
    client = client_factory("s3")()
    assert client.meta.endpoint_url == aws_default_env
    client.list_buckets()


def test_client_is_built_once_across_threads(aws_default_env: str) -> None:
    """Concurrent first calls share one client."""
    factory = client_factory("s3")
    seen: list[Any] = []
    barrier = threading.Barrier(8)

    def call() -> None:
        barrier.wait()
        seen.append(factory())

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 8 and all(client is seen[0] for client in seen)


def test_no_connection_uses_the_boto3_default_chain(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """aws_conn_id=None skips Airflow; boto3's own settings (here AWS_ENDPOINT_URL_S3) apply."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_server)
    client = client_factory("s3", aws_conn_id=None, region_name="us-east-1")()
    assert client.meta.endpoint_url == moto_server
    assert client.meta.region_name == "us-east-1"


def test_a_detached_client_built_before_a_fork_is_not_used_in_the_child(aws_default_env: str, s3_client: Any) -> None:
    # The child closes inherited descriptors and reuses their numbers: a pooled socket of the parent's client would
    # then read and close another file. The child builds its own client; the parent's keeps working.
    import os

    from ml_lifecycle.aws_clients import detached_client_factory

    bucket = f"fork-{uuid.uuid4().hex[:8]}"
    s3_client.create_bucket(Bucket=bucket)
    factory = detached_client_factory("s3", "aws_default")
    parent_client = factory()
    parent_client.put_object(Bucket=bucket, Key="from-parent", Body=b"p")  # a pooled connection now exists
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: what a detached agent does
        code = 1
        try:
            os.close(read)
            child_client = factory()
            child_client.put_object(Bucket=bucket, Key="from-child", Body=b"c")
            os.write(write, b"new" if child_client is not parent_client else b"same")
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    said = os.read(read, 16)
    os.close(read)
    assert os.waitstatus_to_exitcode(status) == 0 and said == b"new"
    assert factory() is parent_client
    keys = sorted(o["Key"] for o in s3_client.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == ["from-child", "from-parent"]
