"""Training jobs outlive their Airflow task: kills, retries that reattach, on_kill, deferral and the sensor."""

from __future__ import annotations

import asyncio
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

from ml_lifecycle import TrainingJobSensor, TrainOnEC2Operator
from ml_lifecycle.errors import JobFailed
from ml_lifecycle.triggers.job_record import JobRecordTrigger

pytestmark = pytest.mark.docker

SLOW_TRAIN = (
    "trap 'echo saved > /opt/ml/model/stopped.txt; exit 143' TERM; sleep 4 & wait; echo done > /opt/ml/model/m.txt"
)

CHILD = """
import json, sys
from types import SimpleNamespace
from ml_lifecycle import TrainOnEC2Operator
args = json.loads(sys.argv[1])
context = {"ti": SimpleNamespace(dag_id="tests", task_id="train", map_index=-1), "run_id": args.pop("run_id")}
TrainOnEC2Operator(task_id="train", **args).execute(context)
"""


def _args(image: str, data: Path, out: Path, **extra: Any) -> dict[str, Any]:
    """The training arguments these tests share.

    :param image: the image.
    :param data: the sample data.
    :param out: the output folder.
    :param extra: more arguments.
    """
    return {
        "image_uri": image,
        "channels": {"train": f"file://{data}/train"},
        "output_path": f"file://{out}",
        "entrypoint": ["sh", "-c", SLOW_TRAIN],
        "max_runtime_s": 120,
        **extra,
    }


def _wait_for(condition, timeout_s: float = 60.0, what: str = "condition") -> Any:
    """Poll until condition() is truthy and return its value.

    :param condition: the check.
    :param timeout_s: the most seconds to wait.
    :param what: what is awaited, for the failure message.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _record(out: Path) -> dict[str, Any] | None:
    """Read the only job record under out, if there is one.

    :param out: the output folder.
    """
    found = list(out.glob("*/status.json"))
    return json.loads(found[0].read_text()) if found else None


def _start_task_process(args: dict[str, Any], run_id: str) -> subprocess.Popen:
    """Run the operator in a separate process, as an Airflow task would be.

    :param args: operator arguments.
    :param run_id: the DAG run id.
    """
    payload = json.dumps({**args, "run_id": run_id})
    return subprocess.Popen([sys.executable, "-c", CHILD, payload], start_new_session=True)


def test_a_killed_task_leaves_the_job_running_and_a_retry_reattaches(
    example_image, sample_data, tmp_path, ml_home, docker_client
):
    out = tmp_path / "out"
    context = task_context(task_id="train")
    args = _args(example_image, sample_data, out)
    since = time.time()
    task = _start_task_process(args, context["run_id"])
    _wait_for(lambda: managed_containers(docker_client, run_id=context["run_id"]), what="the job's container")
    os.killpg(task.pid, signal.SIGKILL)
    task.wait()
    assert _record(out)["status"] == "InProgress"

    result = TrainOnEC2Operator(task_id="train", **args).execute(context)

    assert result["status"] == "Completed"
    events = docker_client.events(
        since=since,
        until=time.time() + 0.5,
        decode=True,
        filters={"type": "container", "event": "create", "label": f"ml-lifecycle.run-id={context['run_id']}"},
    )
    assert len(list(events)) == 1
    assert managed_containers(docker_client, run_id=context["run_id"]) == []


def test_a_job_whose_task_died_runs_to_its_end_and_keeps_its_outputs(example_image, sample_data, tmp_path, ml_home):
    out = tmp_path / "out"
    context = task_context(task_id="train")
    task = _start_task_process(_args(example_image, sample_data, out), context["run_id"])
    _wait_for(lambda: (_record(out) or {}).get("secondary_status") == "Training", what="training to start")
    os.killpg(task.pid, signal.SIGKILL)
    task.wait()

    record = _wait_for(lambda: (r := _record(out)) and r["status"] != "InProgress" and r, what="the job's end")
    assert record["status"] == "Completed"
    assert Path(record["artifacts"]["model"].removeprefix("file://")).is_file()


def test_on_kill_stops_the_job_and_keeps_what_it_saved(example_image, sample_data, tmp_path, ml_home, docker_client):
    out = tmp_path / "out"
    context = task_context()
    op = TrainOnEC2Operator(task_id="train", wait_for_completion=False, **_args(example_image, sample_data, out))
    started = op.execute(context)
    assert started["status"] == "InProgress"
    _wait_for(lambda: (_record(out) or {}).get("secondary_status") == "Training", what="training to start")
    op.on_kill()

    record = _wait_for(lambda: (r := _record(out)) and r["status"] != "InProgress" and r, what="the stop")
    assert (record["status"], record["secondary_status"]) == ("Stopped", "Stopped")
    assert Path(record["artifacts"]["model"].removeprefix("file://")).is_file()
    assert managed_containers(docker_client, run_id=context["run_id"]) == []


def test_deferral_round_trip_through_the_trigger(example_image, sample_data, tmp_path, ml_home):
    from airflow.sdk.exceptions import TaskDeferred

    out = tmp_path / "out"
    context = task_context()
    op = TrainOnEC2Operator(
        task_id="train", deferrable=True, poll_interval_s=0.2, **_args(example_image, sample_data, out)
    )
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)
    trigger = deferred.value.trigger
    assert isinstance(trigger, JobRecordTrigger)
    classpath, kwargs = trigger.serialize()
    assert classpath == "ml_lifecycle.triggers.job_record.JobRecordTrigger"
    rebuilt = JobRecordTrigger(**kwargs)

    async def first_event() -> Any:
        return await rebuilt.run().__anext__()

    event = asyncio.run(first_event())
    assert event.payload["status"] == "Completed"
    result = op.execute_complete(context, event.payload, **deferred.value.kwargs)
    assert result["status"] == "Completed" and result["model_uri"].endswith("model.tar.gz")


def test_the_sensor_waits_for_a_job_by_name(example_image, sample_data, tmp_path, ml_home):
    out = tmp_path / "out"
    started = TrainOnEC2Operator(
        task_id="train", wait_for_completion=False, **_args(example_image, sample_data, out)
    ).execute(task_context())
    sensor = TrainingJobSensor(task_id="wait", job_name=started["job_name"], output_path=f"file://{out}")
    assert sensor.poke({}) is False
    done = _wait_for(lambda: sensor.poke({}), what="the sensor")
    assert done.xcom_value["job_name"] == started["job_name"]

    failing = TrainOnEC2Operator(
        task_id="train",
        wait_for_completion=False,
        **_args(example_image, sample_data, out, entrypoint=["sh", "-c", "exit 2"]),
    ).execute(task_context())
    sensor = TrainingJobSensor(task_id="wait", job_name=failing["job_name"], output_path=f"file://{out}")
    with pytest.raises(JobFailed):
        _wait_for(lambda: sensor.poke({}), what="the failure")
