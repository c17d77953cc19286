"""An Airflow task process killed during a transform or a deploy: the retry completes and nothing is left over."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from support.helpers import managed_containers, task_context
from support.models import linear_model_archive

from ml_lifecycle import BatchTransformOperator, DeleteEndpointOperator, DeployEndpointOperator

pytestmark = pytest.mark.docker

CHILD = """
import json, sys
from types import SimpleNamespace
import ml_lifecycle
args = json.loads(sys.argv[1])
cls = getattr(ml_lifecycle, args.pop("operator"))
context = {"ti": SimpleNamespace(dag_id="tests", task_id="task", map_index=-1), "run_id": args.pop("run_id")}
cls(task_id="task", **args).execute(context)
"""


def _start(operator: str, args: dict[str, Any], run_id: str) -> subprocess.Popen:
    """Run an operator in its own process, as an Airflow task would be.

    :param operator: the class name in ml_lifecycle.
    :param args: its arguments.
    :param run_id: the DAG run id.
    """
    payload = json.dumps({**args, "operator": operator, "run_id": run_id})
    return subprocess.Popen([sys.executable, "-c", CHILD, payload], start_new_session=True)


def _kill_when(task: subprocess.Popen, condition, timeout_s: float = 60) -> None:
    """SIGKILL the task's process group as soon as condition() holds.

    :param task: the task process.
    :param condition: what to wait for.
    :param timeout_s: the most seconds to wait.
    """
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("the task never got that far")
        assert task.poll() is None, "the task ended before it could be killed"
        time.sleep(0.02)
    os.killpg(task.pid, signal.SIGKILL)
    task.wait()


def test_a_transform_killed_midway_is_completed_by_the_retry(example_image, tmp_path, ml_home, docker_client):
    rows = "".join(f"{i},1,1,1,1,1,1,1\n" for i in range(20_000))
    for name in ("a.csv", "b.csv", "c.csv"):
        (tmp_path / "in").mkdir(exist_ok=True)
        (tmp_path / "in" / name).write_text(rows)
    model = linear_model_archive(tmp_path / "m" / "model.tar.gz", [1.0] * 8)
    args = {
        "image_uri": example_image,
        "model_uri": model,
        "input_uri": f"file://{tmp_path}/in",
        "output_uri": f"file://{tmp_path}/out",
        "content_type": "text/csv",
    }
    context = task_context(task_id="task")
    task = _start("BatchTransformOperator", args, context["run_id"])
    _kill_when(task, lambda: managed_containers(docker_client, run_id=context["run_id"]))

    result = BatchTransformOperator(task_id="task", **args).execute(context)

    assert result["status"] == "Completed"
    for name in ("a.csv", "b.csv", "c.csv"):
        assert len((tmp_path / "out" / f"{name}.out").read_text().splitlines()) == 20_000
    assert managed_containers(docker_client, run_id=context["run_id"]) == []


def test_a_deploy_killed_midway_is_completed_by_the_retry(example_image, tmp_path, ml_home, docker_client):
    model = linear_model_archive(tmp_path / "m" / "model.tar.gz", [1.0] * 8)
    name = f"killed-{os.getpid() % 100000}"
    args = {"endpoint_name": name, "image_uri": example_image, "model_uri": model}
    context = task_context(task_id="task")
    task = _start("DeployEndpointOperator", args, context["run_id"])
    _kill_when(task, lambda: managed_containers(docker_client, endpoint=name))
    try:
        deployed = DeployEndpointOperator(task_id="task", **args).execute(context)
        record = json.loads((ml_home / "endpoints" / f"{name}.json").read_text())
        assert record["status"] == "InService" and deployed["url"]
        running = managed_containers(docker_client, endpoint=name)
        revisions = {c.labels.get("ml-lifecycle.revision") for c in running if c.labels.get("ml-lifecycle.revision")}
        assert revisions == {deployed["revision"]}
    finally:
        DeleteEndpointOperator(task_id="delete", endpoint_name=name).execute(task_context())
    assert managed_containers(docker_client, endpoint=name) == []
    assert not Path(ml_home / "endpoints" / f"{name}.json").exists()
