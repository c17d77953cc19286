"""Serving containers (an endpoint's model containers and its proxy, batch transform containers) get no Docker
socket, no privileges, no host namespaces and no AWS credentials, as training containers do.

The one exception is the endpoint's nginx, which shares the host's network namespace (so requests skip Docker's
userland port proxy): it runs as www-data with every capability dropped and no way to gain one, so on that network
it can do no more than any unprivileged host process (no raw sockets, no privileged ports). Like such a process it
could connect to services bound to the host's loopback, and on an EC2 host to the instance metadata service; its
configuration is ours and no request steers where it connects, so only a compromised nginx could.
ML_LIFECYCLE_PROXY_NETWORK=bridge keeps it off the host's network where that matters."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
from support.helpers import managed_containers, task_context
from support.models import linear_model_archive

from ml_lifecycle import BatchTransformOperator, DeleteEndpointOperator, DeployEndpointOperator

pytestmark = pytest.mark.docker

# What a process with the default capabilities could do on the host's network, and the proxy must not.
RAW_SOCKET = "import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)"
PRIVILEGED_PORT = "import socket; socket.socket().bind(('127.0.0.1', 81))"


def _assert_confined(attrs: dict[str, Any]) -> None:
    """Say that one inspected container cannot reach the engine or the host beyond what serving needs.

    :param attrs: the container's inspection (docker SDK attrs).
    """
    name = attrs["Name"]
    host_config = attrs["HostConfig"]
    assert host_config["Privileged"] is False, name
    assert not host_config.get("CapAdd"), name
    assert not host_config.get("Devices"), name
    assert not any("unconfined" in option for option in host_config.get("SecurityOpt") or []), name
    is_proxy = attrs["Config"]["Labels"].get("ml-lifecycle.role") == "proxy"
    for namespace in ("NetworkMode", "PidMode", "IpcMode", "UTSMode", "UsernsMode"):
        assert host_config.get(namespace) != "host" or (is_proxy and namespace == "NetworkMode"), (name, namespace)
    if is_proxy:
        assert host_config.get("CapDrop") == ["ALL"], name
        assert "no-new-privileges" in (host_config.get("SecurityOpt") or []), name
        assert attrs["Config"]["User"] == "www-data", name
    sources = [m.get("Source", "") for m in attrs["Mounts"]] + list(host_config.get("Binds") or [])
    assert not any("docker.sock" in source for source in sources), name
    env = attrs["Config"]["Env"] or []
    assert not any(var.startswith(("AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "DOCKER_HOST=")) for var in env)


def test_endpoint_containers_and_proxy_are_confined(example_image, tmp_path, ml_home, docker_client):
    name = f"sec-{uuid.uuid4().hex[:8]}"
    model_uri = linear_model_archive(tmp_path / "model.tar.gz", [1.0] * 8)
    try:
        DeployEndpointOperator(
            task_id="deploy", endpoint_name=name, image_uri=example_image, model_uri=model_uri, instance_count=2
        ).execute(task_context())
        containers = managed_containers(docker_client, endpoint=name)
        kinds = sorted(c.labels.get("ml-lifecycle.kind", "") for c in containers)
        assert len(containers) >= 3, kinds  # two model containers and the proxy
        for container in containers:
            container.reload()
            _assert_confined(container.attrs)
        proxy = next(c for c in containers if c.labels.get("ml-lifecycle.role") == "proxy")
        for attempt in (RAW_SOCKET, PRIVILEGED_PORT):
            code, output = proxy.exec_run(["python3", "-c", attempt])
            assert code != 0 and b"PermissionError" in output, (attempt, output)
    finally:
        DeleteEndpointOperator(task_id="delete", endpoint_name=name).execute(task_context())
    assert managed_containers(docker_client, endpoint=name) == []


def test_batch_transform_containers_are_confined(example_image, tmp_path, ml_home, docker_client):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "rows.csv").write_text("".join("1,2,3,4,5,6,7,8\n" for _ in range(200)))
    context = task_context()
    seen: dict[str, dict[str, Any]] = {}
    done = threading.Event()

    def inspect_while_running() -> None:
        while not done.is_set():
            for container in managed_containers(docker_client, run_id=context["run_id"]):
                seen.setdefault(container.id, container.attrs)
            time.sleep(0.05)

    watcher = threading.Thread(target=inspect_while_running)
    watcher.start()
    try:
        BatchTransformOperator(
            task_id="transform",
            image_uri=example_image,
            model_uri=linear_model_archive(tmp_path / "model" / "model.tar.gz", [1.0] * 8),
            input_uri=f"file://{tmp_path}/in",
            output_uri=f"file://{tmp_path}/out",
            content_type="text/csv",
        ).execute(context)
    finally:
        done.set()
        watcher.join()
    assert seen, "the transform's container was never seen running"
    for attrs in seen.values():
        _assert_confined(attrs)
    assert managed_containers(docker_client, run_id=context["run_id"]) == []
