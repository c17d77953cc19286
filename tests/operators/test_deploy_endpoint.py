"""DeployEndpointOperator with compute="local": an nginx proxy at a fixed URL in front of real serving containers."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from support.helpers import managed_containers, task_context
from support.models import linear_model_archive

from ml_lifecycle import DeleteEndpointOperator, DeployEndpointOperator
from ml_lifecycle.errors import EndpointNotReady, EngineError, SpecError

pytestmark = pytest.mark.docker


def _predict(url: str, row: str = "1,1,1,1,1,1,1,1") -> tuple[str, str]:
    """POST one CSV row and return (prediction, model version header).

    :param url: the endpoint's base URL.
    :param row: a CSV row.
    """
    request = urllib.request.Request(f"{url}/invocations", data=row.encode(), headers={"Content-Type": "text/csv"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode().strip(), response.headers.get("X-Model-Version", "")


def _networks(client: Any, name: str) -> list[Any]:
    """List the networks we labelled for an endpoint.

    :param client: a docker SDK client.
    :param name: the endpoint name.
    """
    return client.networks.list(filters={"label": ["ml-lifecycle.managed=true", f"ml-lifecycle.endpoint={name}"]})


@pytest.fixture
def endpoint_name(ml_home: Any) -> Iterator[str]:
    """A fresh endpoint name, deleted (proxy, containers, network) after the test."""
    name = f"ep-{uuid.uuid4().hex[:8]}"
    yield name
    DeleteEndpointOperator(task_id="delete", endpoint_name=name).execute(task_context())


def test_a_redeploy_keeps_the_url_and_replaces_the_model(
    example_image, tmp_path, ml_home, docker_client, endpoint_name
):
    first = linear_model_archive(tmp_path / "v1" / "model.tar.gz", [1.0] * 8, version="v1")
    second = linear_model_archive(tmp_path / "v2" / "model.tar.gz", [2.0] * 8, version="v2")
    deployed = DeployEndpointOperator(
        task_id="deploy", endpoint_name=endpoint_name, image_uri=example_image, model_uri=first
    ).execute(task_context())
    with urllib.request.urlopen(f"{deployed['url']}/ping", timeout=2) as ping:
        assert ping.status == 200
    assert _predict(deployed["url"]) == ("8.0", "v1")
    assert deployed["invocations_url"] == f"{deployed['url']}/invocations"

    redeployed = DeployEndpointOperator(
        task_id="deploy", endpoint_name=endpoint_name, image_uri=example_image, model_uri=second
    ).execute(task_context())
    assert redeployed["url"] == deployed["url"]
    assert redeployed["revision"] != deployed["revision"]
    assert _predict(deployed["url"]) == ("16.0", "v2")
    roles = sorted(
        c.labels.get("ml-lifecycle.role", "model") for c in managed_containers(docker_client, endpoint=endpoint_name)
    )
    assert roles == ["model", "proxy"]
    record = json.loads((ml_home / "endpoints" / f"{endpoint_name}.json").read_text())
    assert (record["status"], record["url"]) == ("InService", deployed["url"])
    assert deployed["url"].endswith(f":{record['port']}")


def test_delete_removes_the_proxy_the_containers_the_network_and_the_record(
    example_image, tmp_path, ml_home, docker_client
):
    name = f"ep-{uuid.uuid4().hex[:8]}"
    model = linear_model_archive(tmp_path / "m" / "model.tar.gz", [1.0] * 8)
    DeployEndpointOperator(
        task_id="deploy", endpoint_name=name, image_uri=example_image, model_uri=model, instance_count=2
    ).execute(task_context())
    assert len(managed_containers(docker_client, endpoint=name)) == 3
    assert len(_networks(docker_client, name)) == 1

    result = DeleteEndpointOperator(task_id="delete", endpoint_name=name).execute(task_context())

    assert result == {"endpoint_name": name, "containers_removed": 3}
    assert managed_containers(docker_client, endpoint=name) == []
    assert _networks(docker_client, name) == []
    assert not (ml_home / "endpoints" / f"{name}.json").exists()
    assert not (ml_home / "endpoints" / name).exists()


def test_several_instances_are_upstreams_and_one_dying_fails_no_request(
    example_image, tmp_path, ml_home, docker_client, endpoint_name
):
    model = linear_model_archive(tmp_path / "m" / "model.tar.gz", [1.0] * 8, version="v1")
    deployed = DeployEndpointOperator(
        task_id="deploy", endpoint_name=endpoint_name, image_uri=example_image, model_uri=model, instance_count=3
    ).execute(task_context())
    record = json.loads((ml_home / "endpoints" / f"{endpoint_name}.json").read_text())
    assert len(record["upstreams"]) == 3
    config = (ml_home / "endpoints" / endpoint_name / "proxy" / "nginx.conf").read_text()
    assert all(f"server {address};" in config for address in record["upstreams"])

    models = [
        c for c in managed_containers(docker_client, endpoint=endpoint_name) if "ml-lifecycle.revision" in c.labels
    ]
    models[0].kill()  # abruptly: nginx finds out on the next request and retries it on another container
    assert [_predict(deployed["url"]) for _ in range(30)] == [("8.0", "v1")] * 30


def test_a_failed_update_leaves_the_old_model_serving(example_image, tmp_path, ml_home, docker_client, endpoint_name):
    good = linear_model_archive(tmp_path / "v1" / "model.tar.gz", [1.0] * 8, version="v1")
    deployed = DeployEndpointOperator(
        task_id="deploy", endpoint_name=endpoint_name, image_uri=example_image, model_uri=good
    ).execute(task_context())
    broken = DeployEndpointOperator(
        task_id="deploy",
        endpoint_name=endpoint_name,
        image_uri=example_image,
        model_uri=good,
        environment={"SAGEMAKER_BIND_TO_PORT": "9999"},  # the container listens where nobody asks
        startup_timeout_s=2,
    )
    with pytest.raises(EndpointNotReady, match="did not answer 200 within 2 s"):
        broken.execute(task_context())

    assert _predict(deployed["url"]) == ("8.0", "v1")
    record = json.loads((ml_home / "endpoints" / f"{endpoint_name}.json").read_text())
    assert record["status"] == "InService"
    assert record["revision"] == deployed["revision"]
    assert "The update failed" in record["failure_reason"]
    assert len(managed_containers(docker_client, endpoint=endpoint_name)) == 2


def test_an_image_without_serve_fails_and_leaves_nothing_running(docker_client, tmp_path, ml_home):
    name = f"no-serve-{uuid.uuid4().hex[:6]}"
    model = linear_model_archive(tmp_path / "m" / "model.tar.gz", [1.0])
    op = DeployEndpointOperator(task_id="deploy", endpoint_name=name, image_uri="python:3.11-slim", model_uri=model)
    with pytest.raises(EngineError, match="serve"):
        op.execute(task_context())
    assert managed_containers(docker_client, endpoint=name) == []
    assert _networks(docker_client, name) == []
    record = json.loads((ml_home / "endpoints" / f"{name}.json").read_text())
    assert record["status"] == "Failed"
    assert "serve" in record["failure_reason"]
    DeleteEndpointOperator(task_id="delete", endpoint_name=name).execute(task_context())
    assert not (ml_home / "endpoints" / f"{name}.json").exists()


def test_a_container_that_never_answers_ping_fails_within_the_startup_budget(
    example_image, docker_client, tmp_path, ml_home
):
    name = f"never-ready-{uuid.uuid4().hex[:6]}"
    model = linear_model_archive(tmp_path / "m" / "model.tar.gz", [1.0])
    op = DeployEndpointOperator(
        task_id="deploy",
        endpoint_name=name,
        image_uri=example_image,
        model_uri=model,
        environment={"SAGEMAKER_BIND_TO_PORT": "9999"},
        startup_timeout_s=3,
    )
    with pytest.raises(EndpointNotReady, match="did not answer 200 within 3 s"):
        op.execute(task_context())
    assert managed_containers(docker_client, endpoint=name) == []
    DeleteEndpointOperator(task_id="delete", endpoint_name=name).execute(task_context())


def test_delete_of_a_missing_endpoint_is_fine(ml_home, docker_client):
    assert DeleteEndpointOperator(task_id="d", endpoint_name="no-such-endpoint").execute(task_context()) == {
        "endpoint_name": "no-such-endpoint",
        "containers_removed": 0,
    }


@pytest.mark.parametrize("name", ["-starts-with-dash", "has_underscore", "x" * 64, ""])
def test_bad_endpoint_names_fail_when_the_dag_is_parsed(name):
    with pytest.raises(SpecError, match="endpoint_name"):
        DeployEndpointOperator(task_id="d", endpoint_name=name, image_uri="img:1", model_uri="file:///m.tar.gz")


@pytest.mark.parametrize("value", [0, 101, "six", 2.5])
def test_a_bad_payload_limit_fails_when_the_dag_is_parsed(value):
    with pytest.raises(SpecError, match="max_payload_mb"):
        DeployEndpointOperator(
            task_id="d", endpoint_name="ep", image_uri="img:1", model_uri="file:///m.tar.gz", max_payload_mb=value
        )


def test_the_model_answers_errors_through_the_proxy_unchanged(example_image, tmp_path, ml_home, endpoint_name):
    model = linear_model_archive(tmp_path / "m" / "model.tar.gz", [1.0] * 8)
    url = DeployEndpointOperator(
        task_id="deploy", endpoint_name=endpoint_name, image_uri=example_image, model_uri=model
    ).execute(task_context())["url"]
    with pytest.raises(urllib.error.HTTPError) as bad_row:
        _predict(url, "1,2")
    assert bad_row.value.code == 400
    assert "expected 8" in bad_row.value.read().decode()
    with pytest.raises(urllib.error.HTTPError) as elsewhere:
        urllib.request.urlopen(f"{url}/execution-parameters", timeout=5)
    assert elsewhere.value.code == 404
