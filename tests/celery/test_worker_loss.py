"""CeleryExecutor end to end: SIGKILL the worker running a training task mid-job; the retry runs on the other worker,
reattaches to the job (whose agent left the worker's session), and the job completes with one container ever made."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import tarfile
import time
import uuid
from pathlib import Path
from typing import Any

import psutil
import pytest
from celery_stack import CeleryStack, redis_answers, session_members, start_celery_airflow

pytestmark = [pytest.mark.docker, pytest.mark.airflow_e2e]

TESTS_CELERY = Path(__file__).resolve().parent
DAG_ID = "celery_worker_loss"
TASK_ID = "train"
WORKERS = ["worker-a", "worker-b"]
ENDED = ("success", "failed", "up_for_retry", "upstream_failed", "skipped", "removed")
WAITING_MARKER = "gated-training: waiting for the go-ahead"  # as in dags/celery_worker_loss.py
# The ownership labels every container of a job carries (ml_lifecycle/compute/labels.py), copied on purpose.
MANAGED_LABEL = "ml-lifecycle.managed"
JOB_LABEL = "ml-lifecycle.job"
RUN_ID_LABEL = "ml-lifecycle.run-id"
DAG_ID_LABEL = "ml-lifecycle.dag-id"


def _task(stack: CeleryStack, run_id: str) -> dict[str, Any]:
    """Return the training task instance as the REST API shows it (state, try_number, hostname).

    :param stack: the running Airflow.
    :param run_id: the DAG run.
    """
    return stack.api("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{TASK_ID}")


def _require_try(stack: CeleryStack, run_id: str, try_number: int) -> dict[str, Any]:
    """Return the task instance, failing at once (with the try's log) when that try already ended.

    :param stack: the running Airflow.
    :param run_id: the DAG run.
    :param try_number: the try that must still be to come or running.
    """
    task = _task(stack, run_id)
    if task["try_number"] > try_number or (task["try_number"] == try_number and task["state"] in ENDED):
        raise AssertionError(f"try {try_number} ended early: {task}\n{_try_log(stack, run_id, try_number)[-4000:]}")
    return task


def _record(out: Path) -> dict[str, Any] | None:
    """Return the only job record under the output folder, or None before the job wrote one.

    :param out: the DAG's output_path folder.
    """
    found = sorted(out.glob("*/status.json"))
    assert len(found) <= 1, f"more than one job record: {found}"
    return json.loads(found[0].read_text()) if found else None


def _training(out: Path, docker_client: Any, run_id: str) -> dict[str, Any] | None:
    """Return the job's record once it says Training and its container runs (the record names the agent), else None.

    :param out: the DAG's output_path folder.
    :param docker_client: a docker SDK client.
    :param run_id: the DAG run.
    """
    record = _record(out)
    if not record or (record["status"], record["secondary_status"]) != ("InProgress", "Training"):
        return None
    # The record says Training just before the agent creates the container.
    return record if _job_containers(docker_client, run_id, running=True) else None


def _job_containers(docker_client: Any, run_id: str, *, running: bool) -> list[Any]:
    """List the containers of this DAG run's jobs.

    :param docker_client: a docker SDK client.
    :param run_id: the DAG run.
    :param running: only running ones.
    """
    filters = {"label": [f"{MANAGED_LABEL}=true", f"{DAG_ID_LABEL}={DAG_ID}", f"{RUN_ID_LABEL}={run_id}"]}
    if running:
        filters["status"] = "running"
    return docker_client.containers.list(all=not running, filters=filters)


def _created_containers(docker_client: Any, run_id: str, since: float) -> list[dict[str, Any]]:
    """Return the engine's container "create" events of this DAG run's jobs since a time.

    :param docker_client: a docker SDK client.
    :param run_id: the DAG run.
    :param since: UNIX time to look back to.
    """
    filters = {"type": "container", "event": "create", "label": [f"{MANAGED_LABEL}=true", f"{RUN_ID_LABEL}={run_id}"]}
    return list(docker_client.events(since=since, until=time.time() + 0.5, decode=True, filters=filters))


def _try_log(stack: CeleryStack, run_id: str, try_number: int) -> str:
    """Return a try's task log as the REST API serves it, as text.

    :param stack: the running Airflow.
    :param run_id: the DAG run.
    :param try_number: the try.
    """
    path = f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{TASK_ID}/logs/{try_number}?full_content=true"
    return json.dumps(stack.api("GET", path))


def _agents(out: Path) -> set[int]:
    """Return the agent pids that the job records under the output folder name (any number of records).

    :param out: the DAG's output_path folder.
    """
    records = [json.loads(path.read_text()) for path in out.glob("*/status.json")]
    return {int(r["agent"]["pid"]) for r in records if r.get("agent", {}).get("pid")}


def _agent_alive(pid: int) -> bool:
    """Say whether the job's agent process still runs (a zombie does not).

    :param pid: its pid.
    """
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.timeout(420)
def test_a_retry_on_another_worker_reattaches_to_the_job_of_a_killed_worker(
    tmp_path, example_image, sample_data, docker_client
):
    root = tmp_path / "job"
    out, control = root / "out", root / "control"
    control.mkdir(parents=True)
    (control / "README").write_text("the test writes `release` here to let the training job go on\n")
    env = {
        "ML_LIFECYCLE_HOME": str(tmp_path / "ml-home"),
        "ML_CELERY_E2E_ROOT": str(root),
        "ML_CELERY_E2E_DATA": str(sample_data),
        "ML_CELERY_E2E_IMAGE": example_image,
    }
    run_id = f"celery-e2e-{uuid.uuid4().hex[:8]}"
    since = time.time()
    stack = start_celery_airflow(tmp_path / "airflow", TESTS_CELERY / "dags", env, WORKERS)
    agent_pid = 0
    try:
        stack.wait_for("the DAG", lambda: stack.api("GET", f"/api/v2/dags/{DAG_ID}"), timeout_s=120)
        stack.api("POST", f"/api/v2/dags/{DAG_ID}/dagRuns", {"dag_run_id": run_id, "logical_date": None})

        # First try: once the job's container trains, find the worker that runs the task.
        def first_try_training() -> dict[str, Any] | None:
            _require_try(stack, run_id, 1)
            return _training(out, docker_client, run_id)

        record = stack.wait_for("the job's container to train", first_try_training, timeout_s=180, interval_s=0.5)
        agent_pid = int(record["agent"]["pid"])
        first = _task(stack, run_id)
        assert (first["state"], first["try_number"]) == ("running", 1), first
        victim = first["hostname"]  # each worker reports its own name (worker_identity.hostname)
        assert victim in WORKERS, first
        # The task process that forked the agent (its parent, unless the agent was reparented) is the victim's.
        assert stack.worker_of_process(psutil.Process(agent_pid).ppid()) in (victim, None)
        survivor = next(name for name in WORKERS if name != victim)
        assert agent_pid not in session_members(stack.workers[victim].pid), "the agent did not leave the task's session"

        killed = stack.kill_worker(victim)
        assert killed and not session_members(stack.workers[victim].pid)
        assert _agent_alive(agent_pid), "the job's agent died with the worker"
        assert _job_containers(docker_client, run_id, running=True), "the job's container died with the worker"

        # The scheduler fails the silent try after the heartbeat timeout; the retry can only run on the survivor.
        def retry_running() -> dict[str, Any] | None:
            task = _require_try(stack, run_id, 2)
            return task if (task["try_number"], task["state"]) == (2, "running") else None

        second = stack.wait_for("the retry to run", retry_running, timeout_s=120)
        assert second["hostname"] == survivor, second
        # The retry follows the live job (its log shows the job's own output) before the job may finish.
        stack.wait_for("the retry to follow the job", lambda: WAITING_MARKER in _try_log(stack, run_id, 2), 120)
        record = _record(out)
        assert record["status"] == "InProgress" and int(record["agent"]["pid"]) == agent_pid, record
        (control / "release").write_text("go\n")

        def run_state() -> str | None:
            state = stack.api("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}")["state"]
            return state if state in ("success", "failed") else None

        assert stack.wait_for("the DAG run to end", run_state, timeout_s=180) == "success", stack.log_tails()
        final = _task(stack, run_id)
        assert (final["state"], final["try_number"], final["hostname"]) == ("success", 2, survivor), final
        tries = stack.api("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{TASK_ID}/tries")
        first_try = next(t for t in tries["task_instances"] if t["try_number"] == 1)
        assert (first_try["state"], first_try["hostname"]) == ("failed", victim), first_try

        record = _record(out)
        job = record["job_name"]
        assert record["status"] == "Completed", record
        model = Path(record["artifacts"]["model"].removeprefix("file://"))
        assert model.is_file() and model.is_relative_to(out / job), model
        with tarfile.open(model) as archive:  # the example image's `train` ran after the go-ahead
            assert "model.json" in {Path(name).name for name in archive.getnames()}, archive.getnames()
        created = _created_containers(docker_client, run_id, since)
        assert [e["Actor"]["Attributes"][JOB_LABEL] for e in created] == [job], created
        stack.wait_for("the agent to end", lambda: not _agent_alive(agent_pid), timeout_s=60)
        assert _job_containers(docker_client, run_id, running=False) == []
    finally:
        stack.stop()
        for container in _job_containers(docker_client, run_id, running=False):
            container.remove(force=True)
        for pid in {agent_pid, *_agents(out)} - {0}:
            with contextlib.suppress(ProcessLookupError):
                if _agent_alive(pid) and os.getsid(pid) == pid:  # still an agent (a session leader), not a reused pid
                    os.kill(pid, signal.SIGKILL)
    assert stack.leftovers() == {}
    assert not redis_answers(stack.redis_port)
