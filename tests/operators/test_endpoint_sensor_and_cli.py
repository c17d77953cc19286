"""EndpointInServiceSensor, DeleteEndpointOperator as a teardown task, and the ml-lifecycle CLI on a real endpoint."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from airflow.sdk import DAG
from support.helpers import task_context
from support.models import linear_model_archive

from ml_lifecycle import DeleteEndpointOperator, DeployEndpointOperator, EndpointInServiceSensor
from ml_lifecycle.errors import EndpointNotReady, EngineError

pytestmark = pytest.mark.docker


def _cli(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """Run the ml-lifecycle command (this environment's ML_LIFECYCLE_HOME).

    :param args: its arguments.
    :param stdin: its standard input.
    """
    command = [sys.executable, "-m", "ml_lifecycle.cli", *args]
    return subprocess.run(command, input=stdin, capture_output=True, env=dict(os.environ), timeout=120)


def test_the_sensor_waits_for_the_endpoint_then_hands_on_its_url(example_image, tmp_path, ml_home):
    name = f"sen-{uuid.uuid4().hex[:8]}"
    sensor = EndpointInServiceSensor(task_id="wait", endpoint_name=name)
    assert sensor.poke(task_context()) is False

    model = linear_model_archive(tmp_path / "m" / "model.tar.gz", [1.0] * 8)
    deployed = DeployEndpointOperator(
        task_id="deploy", endpoint_name=name, image_uri=example_image, model_uri=model
    ).execute(task_context())
    try:
        done = sensor.poke(task_context())
        assert done.is_done
        assert done.xcom_value["url"] == deployed["url"]
        assert done.xcom_value["invocations_url"] == f"{deployed['url']}/invocations"
    finally:
        DeleteEndpointOperator(task_id="delete", endpoint_name=name).execute(task_context())
    assert sensor.poke(task_context()) is False


def test_the_sensor_fails_on_a_failed_endpoint(tmp_path, ml_home, docker_client):
    name = f"sen-{uuid.uuid4().hex[:8]}"
    model = linear_model_archive(tmp_path / "m" / "model.tar.gz", [1.0])
    with pytest.raises(EngineError, match="serve"):
        DeployEndpointOperator(
            task_id="deploy", endpoint_name=name, image_uri="python:3.11-slim", model_uri=model
        ).execute(task_context())
    try:
        with pytest.raises(EndpointNotReady, match=f"Endpoint {name} is Failed: .*serve"):
            EndpointInServiceSensor(task_id="wait", endpoint_name=name).poke(task_context())
    finally:
        DeleteEndpointOperator(task_id="delete", endpoint_name=name).execute(task_context())


def test_delete_endpoint_is_a_teardown_task_of_its_deploy():
    with DAG("endpoint_teardown", schedule=None):
        deploy = DeployEndpointOperator(
            task_id="deploy", endpoint_name="ep", image_uri="img:1", model_uri="file:///m/model.tar.gz"
        )
        wait = EndpointInServiceSensor(task_id="wait", endpoint_name="ep")
        delete = DeleteEndpointOperator(task_id="delete", endpoint_name="ep").as_teardown(setups=deploy)
        deploy >> wait >> delete
    assert delete.is_teardown
    assert {"deploy", "wait"} <= delete.upstream_task_ids


def test_the_cli_invokes_by_name_and_by_url_lists_and_deletes(example_image, tmp_path: Path, ml_home):
    name = f"cli-{uuid.uuid4().hex[:8]}"
    model = linear_model_archive(tmp_path / "m" / "model.tar.gz", [1.0] * 8, version="v7")
    DeployEndpointOperator(task_id="deploy", endpoint_name=name, image_uri=example_image, model_uri=model).execute(
        task_context()
    )
    try:
        url = _cli("url", name)
        assert url.returncode == 0, url.stderr
        base = url.stdout.decode().strip()
        by_name = _cli("invoke", name, "--content-type", "text/csv", stdin=b"1,1,1,1,1,1,1,1\n2,2,2,2,2,2,2,2\n")
        assert (by_name.returncode, by_name.stdout) == (0, b"8.0\n16.0\n"), by_name.stderr
        by_url = _cli("invoke", f"{base}/invocations", "--content-type", "text/csv", stdin=b"1,1,1,1,1,1,1,1\n")
        assert (by_url.returncode, by_url.stdout) == (0, b"8.0\n"), by_url.stderr
        bad = _cli("invoke", name, "--content-type", "text/csv", stdin=b"1,2\n")
        assert bad.returncode == 1
        assert b"the endpoint answered 400" in bad.stderr
        listed = _cli("endpoints").stdout.decode()
        assert f"{name} InService {base} " in listed
    finally:
        deleted = _cli("delete-endpoint", name)
    assert deleted.returncode == 0, deleted.stderr
    assert f"endpoint {name} deleted: 2 containers".encode() in deleted.stdout
    missing = _cli("invoke", name, stdin=b"1\n")
    assert missing.returncode != 0
    assert f"no endpoint named '{name}'".encode() in missing.stderr
