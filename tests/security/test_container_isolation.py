"""Job containers get no Docker socket and no privileges, no AWS credentials, and no network when isolated."""

from __future__ import annotations

import io
import json
import tarfile
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from support.helpers import managed_containers, task_context

from ml_lifecycle import TrainOnEC2Operator

pytestmark = pytest.mark.docker

SECRET = "SECRET-do-not-leak-7f3a9c"


def _model_files(result: dict[str, Any]) -> dict[str, str]:
    """Read model.tar.gz's files from a file:// result.

    :param result: the operator's result.
    """
    with tarfile.open(result["model_uri"].removeprefix("file://")) as tar:
        return {m.name: tar.extractfile(m).read().decode() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def test_containers_are_unprivileged_without_the_docker_socket(
    example_image, sample_data, tmp_path, ml_home, docker_client
):
    context = task_context()
    seen: list[dict[str, Any]] = []

    def inspect_while_running() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not seen:
            for container in managed_containers(docker_client, run_id=context["run_id"]):
                seen.append(container.attrs)
            time.sleep(0.05)

    watcher = threading.Thread(target=inspect_while_running)
    watcher.start()
    TrainOnEC2Operator(
        task_id="train",
        image_uri=example_image,
        channels={"train": f"file://{sample_data}/train"},
        output_path=f"file://{tmp_path}/out",
        entrypoint=["sh", "-c", "sleep 2"],
    ).execute(context)
    watcher.join()

    assert seen, "the job's container was never seen running"
    assert float(seen[0]["Config"]["Labels"]["ml-lifecycle.deadline"]) > time.time()
    host_config = seen[0]["HostConfig"]
    assert host_config["Privileged"] is False
    assert not host_config.get("CapAdd")
    sources = [m.get("Source", "") for m in seen[0]["Mounts"]]
    assert not any("docker.sock" in s for s in sources)
    assert not any(var.startswith(("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")) for var in seen[0]["Config"]["Env"])


def test_network_isolation_leaves_one_host_without_a_network(example_image, sample_data, tmp_path, ml_home):
    result = TrainOnEC2Operator(
        task_id="train",
        image_uri=example_image,
        channels={"train": f"file://{sample_data}/train"},
        output_path=f"file://{tmp_path}/out",
        enable_network_isolation=True,
        entrypoint=["sh", "-c", "ls /sys/class/net > /opt/ml/model/interfaces.txt"],
    ).execute(task_context())
    assert _model_files(result)["interfaces.txt"].split() == ["lo"]


def test_network_isolation_lets_hosts_reach_only_each_other(
    example_image, sample_data, tmp_path, ml_home, docker_client
):
    context = task_context()
    attached: dict[str, bool] = {}
    done = threading.Event()

    def capture_networks() -> None:
        owned = {"label": f"ml-lifecycle.run-id={context['run_id']}"}
        while not done.is_set():
            for network in docker_client.networks.list(filters=owned):
                try:
                    network.reload()
                except Exception:
                    continue
                if network.attrs.get("Containers"):
                    attached[network.id] = bool(network.attrs["Internal"])
            time.sleep(0.05)

    watcher = threading.Thread(target=capture_networks)
    watcher.start()
    script = (
        "import socket, time\n"
        "for _ in range(100):\n"
        "    try:\n"
        "        socket.gethostbyname('algo-2' if socket.gethostname() == 'algo-1' else 'algo-1'); break\n"
        "    except OSError:\n"
        "        time.sleep(0.1)\n"
        "else:\n"
        "    raise SystemExit('peer not resolvable')\n"
        "time.sleep(2)\n"
    )
    try:
        TrainOnEC2Operator(
            task_id="train",
            image_uri=example_image,
            channels={"train": f"file://{sample_data}/train"},
            output_path=f"file://{tmp_path}/out",
            instance_count=2,
            enable_network_isolation=True,
            entrypoint=["python3", "-c", script],
        ).execute(context)
    finally:
        done.set()
        watcher.join()
    assert attached, "the hosts' network was never seen with containers attached"
    assert all(attached.values()), "the hosts ran on a network with a route outside"


def test_no_secret_reaches_records_xcom_or_logs(example_image, sample_data, moto_server, monkeypatch, ml_home, capsys):
    connection = {
        "conn_type": "aws",
        "login": "testing",
        "password": SECRET,
        "extra": {"endpoint_url": moto_server, "region_name": "us-east-1"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    s3.create_bucket(Bucket="secret-test")
    for path in sorted((sample_data / "train").iterdir()):
        s3.upload_file(str(path), "secret-test", f"train/{path.name}")
    result = TrainOnEC2Operator(
        task_id="train",
        image_uri=example_image,
        channels={"train": "s3://secret-test/train"},
        output_path="s3://secret-test/out",
        entrypoint=["sh", "-c", "env > /opt/ml/model/env.txt; train"],
        arguments=[],
    ).execute(task_context())

    assert SECRET not in json.dumps(result)
    listing = s3.list_objects_v2(Bucket="secret-test", Prefix="out/")["Contents"]
    for obj in listing:
        body = s3.get_object(Bucket="secret-test", Key=obj["Key"])["Body"].read()
        if obj["Key"].endswith(".tar.gz"):
            with tarfile.open(fileobj=io.BytesIO(body)) as tar:
                body = b"".join(tar.extractfile(m).read() for m in tar.getmembers() if m.isfile())  # type: ignore[union-attr]
        assert SECRET.encode() not in body, obj["Key"]
    for log in Path(ml_home / "logs").rglob("*.log"):
        assert SECRET not in log.read_text(errors="replace"), log
    captured = capsys.readouterr()
    assert SECRET not in captured.out + captured.err
