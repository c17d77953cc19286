"""Where a local endpoint's nginx listens: on the host's network by default, published by Docker with
ML_LIFECYCLE_PROXY_NETWORK=bridge; the port it holds from its start, kept when the proxy must be started again."""

from __future__ import annotations

import socket
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from support.helpers import managed_containers, task_context
from support.models import linear_model_archive

from ml_lifecycle import DeleteEndpointOperator, DeployEndpointOperator
from ml_lifecycle.compute.local.endpoints.proxy import LAYOUT
from ml_lifecycle.errors import EndpointNotReady, EngineError, SpecError

pytestmark = pytest.mark.docker

O_NONBLOCK = 0o4000


def _predict(url: str) -> str:
    """POST one CSV row and return the model version header.

    :param url: the endpoint's base URL.
    """
    request = urllib.request.Request(
        f"{url}/invocations", data=b"1,1,1,1,1,1,1,1", headers={"Content-Type": "text/csv"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.headers.get("X-Model-Version", "")


def _deploy(name: str, image: str, model: str) -> dict[str, Any]:
    """Deploy one instance and return the operator's result.

    :param name: the endpoint name.
    :param image: the serving image.
    :param model: the model URI.
    """
    return DeployEndpointOperator(task_id="deploy", endpoint_name=name, image_uri=image, model_uri=model).execute(
        task_context()
    )


def _proxy(client: Any, name: str) -> Any:
    """Return an endpoint's proxy container, inspected.

    :param client: a docker SDK client.
    :param name: the endpoint name.
    """
    (proxy,) = [c for c in managed_containers(client, endpoint=name) if c.labels.get("ml-lifecycle.role") == "proxy"]
    proxy.reload()
    return proxy


@pytest.fixture
def endpoint_name(ml_home: Any) -> Iterator[str]:
    """A fresh endpoint name, deleted after the test."""
    name = f"pp-{uuid.uuid4().hex[:8]}"
    yield name
    DeleteEndpointOperator(task_id="delete", endpoint_name=name).execute(task_context())


@pytest.fixture
def models(tmp_path: Any) -> tuple[str, str]:
    """Two model archives, versions v1 and v2."""
    return (
        linear_model_archive(tmp_path / "v1" / "model.tar.gz", [1.0] * 8, version="v1"),
        linear_model_archive(tmp_path / "v2" / "model.tar.gz", [2.0] * 8, version="v2"),
    )


def test_the_edge_listens_on_the_host_network_with_the_socket_it_was_handed(
    example_image, models, docker_client, endpoint_name
):
    url = _deploy(endpoint_name, example_image, models[0])["url"]
    proxy = _proxy(docker_client, endpoint_name)
    assert proxy.attrs["HostConfig"]["NetworkMode"] == "host"
    edge = proxy.exec_run(["cat", "/tmp/nginx-edge.pid"]).output.decode().strip()
    assert edge.isdigit(), edge
    # mlc-proxy-start bound the socket (fd 3) and the edge nginx inherited it: non-blocking, or a worker woken for a
    # connection another worker took would stall in accept() with its clients.
    code, fdinfo = proxy.exec_run(["cat", f"/proc/{edge}/fdinfo/3"])
    assert code == 0, fdinfo
    flags = int(next(line.split()[1] for line in fdinfo.decode().splitlines() if line.startswith("flags:")), 8)
    assert flags & O_NONBLOCK
    # That fd is the socket listening on the endpoint's port (state 0A in /proc/net/tcp, same inode).
    inode = proxy.exec_run(["readlink", f"/proc/{edge}/fd/3"]).output.decode().strip()
    port = int(url.rsplit(":", 1)[1])
    table = proxy.exec_run(["cat", "/proc/net/tcp"]).output.decode().splitlines()[1:]
    listening = [row.split() for row in table if row.split()[1] == f"0100007F:{port:04X}" and row.split()[3] == "0A"]
    assert [f"socket:[{row[9]}]" for row in listening] == [inode]
    assert _predict(url) == "v1"


def test_a_proxy_that_has_gone_comes_back_on_the_endpoints_port(example_image, models, docker_client, endpoint_name):
    url = _deploy(endpoint_name, example_image, models[0])["url"]
    _proxy(docker_client, endpoint_name).remove(force=True)

    assert _deploy(endpoint_name, example_image, models[1])["url"] == url
    assert _predict(url) == "v2"


def test_a_port_taken_while_the_proxy_was_gone_is_named_and_nothing_new_keeps_running(
    example_image, models, docker_client, endpoint_name
):
    url = _deploy(endpoint_name, example_image, models[0])["url"]
    port = int(url.rsplit(":", 1)[1])
    _proxy(docker_client, endpoint_name).remove(force=True)
    squatter = socket.socket()
    try:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        with pytest.raises(EngineError, match=f"Another program holds 127.0.0.1:{port}"):
            _deploy(endpoint_name, example_image, models[1])
    finally:
        squatter.close()
    revisions = {
        c.labels.get("ml-lifecycle.revision") for c in managed_containers(docker_client, endpoint=endpoint_name)
    }
    assert len(revisions) == 1  # the first revision's container only: the new one was removed


def test_with_bridge_the_port_is_published_and_updates_keep_it(
    example_image, models, docker_client, endpoint_name, monkeypatch
):
    monkeypatch.setenv("ML_LIFECYCLE_PROXY_NETWORK", "bridge")
    url = _deploy(endpoint_name, example_image, models[0])["url"]
    proxy = _proxy(docker_client, endpoint_name)
    assert proxy.attrs["HostConfig"]["NetworkMode"] == f"mlc-ep-{endpoint_name}"
    assert proxy.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"] == url.rsplit(":", 1)[1]
    assert _predict(url) == "v1"

    assert _deploy(endpoint_name, example_image, models[1])["url"] == url
    assert _predict(url) == "v2"


def test_an_unknown_proxy_network_is_refused_and_leaves_nothing(
    example_image, models, docker_client, endpoint_name, monkeypatch
):
    monkeypatch.setenv("ML_LIFECYCLE_PROXY_NETWORK", "overlay")
    with pytest.raises(SpecError, match="ML_LIFECYCLE_PROXY_NETWORK: 'overlay' is not one of host, bridge"):
        _deploy(endpoint_name, example_image, models[0])
    assert managed_containers(docker_client, endpoint=endpoint_name) == []
    # The teardown's delete runs with the setting still wrong: it needs no proxy placement to remove an endpoint.


def test_an_update_that_fails_after_the_proxy_had_gone_routes_it_back_to_the_model_in_service(
    example_image, models, docker_client, endpoint_name
):
    url = _deploy(endpoint_name, example_image, models[0])["url"]
    _proxy(docker_client, endpoint_name).remove(force=True)

    # The new revision never answers /ping (it listens where nobody asks), after the proxy started again on standby.
    with pytest.raises(EndpointNotReady, match="did not answer 200 within 2 s"):
        DeployEndpointOperator(
            task_id="deploy",
            endpoint_name=endpoint_name,
            image_uri=example_image,
            model_uri=models[1],
            environment={"SAGEMAKER_BIND_TO_PORT": "9999"},
            startup_timeout_s=2,
        ).execute(task_context())

    assert _predict(url) == "v1"


def test_a_proxy_of_an_older_layout_is_replaced_on_the_next_update(example_image, models, docker_client, endpoint_name):
    url = _deploy(endpoint_name, example_image, models[0])["url"]
    proxy = _proxy(docker_client, endpoint_name)
    old_labels = {k: v for k, v in proxy.labels.items() if k != "ml-lifecycle.proxy-layout"}
    proxy.remove(force=True)
    # A stand-in for a proxy from before the edge and the router: the endpoint's proxy labels, no layout label.
    docker_client.containers.run(
        example_image,
        name=f"mlc-ep-{endpoint_name}-proxy",
        labels=old_labels,
        entrypoint=["sleep", "3600"],
        init=True,  # sleep as PID 1 would ignore the update's SIGTERM and hold it for the whole stop grace
        detach=True,
    )

    assert _deploy(endpoint_name, example_image, models[1])["url"] == url
    assert _predict(url) == "v2"
    assert _proxy(docker_client, endpoint_name).labels["ml-lifecycle.proxy-layout"] == LAYOUT


def test_a_running_proxy_keeps_its_network_when_the_setting_changes(
    example_image, models, docker_client, endpoint_name, monkeypatch
):
    monkeypatch.setenv("ML_LIFECYCLE_PROXY_NETWORK", "bridge")
    url = _deploy(endpoint_name, example_image, models[0])["url"]
    monkeypatch.delenv("ML_LIFECYCLE_PROXY_NETWORK")

    assert _deploy(endpoint_name, example_image, models[1])["url"] == url
    assert _predict(url) == "v2"
    assert _proxy(docker_client, endpoint_name).attrs["HostConfig"]["NetworkMode"] == f"mlc-ep-{endpoint_name}"
