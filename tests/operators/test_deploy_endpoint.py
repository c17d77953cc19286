"""DeployEndpointOperator with compute="local": /ping, /invocations, redeploys and deletion on real containers."""

from __future__ import annotations

import urllib.request

import pytest
from support.helpers import managed_containers, task_context
from support.models import linear_model_archive

from ml_lifecycle import DeleteEndpointOperator, DeployEndpointOperator
from ml_lifecycle.errors import EndpointNotReady, EngineError, SpecError

pytestmark = pytest.mark.docker


def _predict(url: str, row: str) -> tuple[str, str]:
    """POST one CSV row and return (prediction, model version header).

    :param url: the endpoint's base URL.
    :param row: a CSV row.
    """
    request = urllib.request.Request(f"{url}/invocations", data=row.encode(), headers={"Content-Type": "text/csv"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode().strip(), response.headers.get("X-Model-Version", "")


def test_deploy_serves_and_redeploy_replaces_the_model(example_image, tmp_path, ml_home, docker_client):
    first = linear_model_archive(tmp_path / "v1" / "model.tar.gz", [1.0] * 8, version="v1")
    second = linear_model_archive(tmp_path / "v2" / "model.tar.gz", [2.0] * 8, version="v2")
    name = f"ep-{task_context()['run_id'][-8:]}"
    try:
        deployed = DeployEndpointOperator(
            task_id="deploy", endpoint_name=name, image_uri=example_image, model_uri=first
        ).execute(task_context())
        with urllib.request.urlopen(f"{deployed['url']}/ping", timeout=2) as ping:
            assert ping.status == 200
        assert _predict(deployed["url"], "1,1,1,1,1,1,1,1") == ("8.0", "v1")

        redeployed = DeployEndpointOperator(
            task_id="deploy", endpoint_name=name, image_uri=example_image, model_uri=second
        ).execute(task_context())
        assert redeployed["revision"] != deployed["revision"]
        assert _predict(redeployed["url"], "1,1,1,1,1,1,1,1") == ("16.0", "v2")
        assert len(managed_containers(docker_client, endpoint=name)) == 1
    finally:
        DeleteEndpointOperator(task_id="delete", endpoint_name=name).execute(task_context())
    assert managed_containers(docker_client, endpoint=name) == []
    assert not (ml_home / "endpoints" / f"{name}.json").exists()


def test_an_image_without_serve_fails_and_leaves_nothing(docker_client, tmp_path, ml_home):
    model = linear_model_archive(tmp_path / "m" / "model.tar.gz", [1.0])
    op = DeployEndpointOperator(
        task_id="deploy", endpoint_name="no-serve", image_uri="python:3.11-slim", model_uri=model
    )
    with pytest.raises(EngineError, match="serve"):
        op.execute(task_context())
    assert managed_containers(docker_client, endpoint="no-serve") == []


def test_a_container_that_never_answers_ping_fails_and_is_removed(example_image, docker_client, tmp_path, ml_home):
    model = linear_model_archive(tmp_path / "m" / "model.tar.gz", [1.0])
    op = DeployEndpointOperator(
        task_id="deploy",
        endpoint_name="never-ready",
        image_uri=example_image,
        model_uri=model,
        environment={"SAGEMAKER_BIND_TO_PORT": "9999"},
        startup_timeout_s=3,
    )
    with pytest.raises(EndpointNotReady, match="did not answer 200 within 3 s"):
        op.execute(task_context())
    assert managed_containers(docker_client, endpoint="never-ready") == []


def test_delete_of_a_missing_endpoint_is_fine(ml_home, docker_client):
    assert DeleteEndpointOperator(task_id="d", endpoint_name="no-such-endpoint").execute(task_context()) == {
        "endpoint_name": "no-such-endpoint",
        "containers_removed": 0,
    }


@pytest.mark.parametrize("name", ["-starts-with-dash", "has_underscore", "x" * 64, ""])
def test_bad_endpoint_names_fail_when_the_dag_is_parsed(name):
    with pytest.raises(SpecError, match="endpoint_name"):
        DeployEndpointOperator(task_id="d", endpoint_name=name, image_uri="img:1", model_uri="file:///m.tar.gz")
