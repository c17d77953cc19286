"""TuneOnEC2Operator's trials are stopped when the tuning job ends early: at its MaxRuntimeInSeconds, when its task
fails for good, and all of them even when one cannot be stopped."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
from typing import Any

import pytest
from support.helpers import managed_containers, task_context, wait_until
from support.tuning_runs import long_trials_in_a_thread, running_state, tuning_args, tuning_state

from ml_lifecycle import TuneOnEC2Operator

pytestmark = pytest.mark.docker


def test_a_tuning_task_failing_on_its_last_try_stops_its_trials_and_keeps_its_error(
    curve_image, sample_data, tmp_path, ml_home, docker_client
):
    from ml_lifecycle.errors import StoreError

    out = tmp_path / "out"
    context = task_context(task_id="tune")
    context["ti"].try_number, context["ti"].max_tries = 1, 0  # no retries: this try is the last
    _, thread, raised = long_trials_in_a_thread(curve_image, sample_data, out, context)
    try:
        state = wait_until(lambda: running_state(out, 2), "two trials running", timeout_s=120)
        # The tuning state cannot be written any more: its folder became a file, an error no retry would fix here.
        folder = out / state["tuning_job_name"]
        shutil.rmtree(folder)
        folder.write_text("in the way")
        thread.join(timeout=300)
        assert raised and isinstance(raised[0], StoreError), raised
        _wait_until_none_runs(docker_client, run_id=context["run_id"])
    finally:
        _remove_containers(docker_client, context["run_id"])


def test_stopping_every_trial_goes_on_past_one_that_cannot_be_stopped_and_names_it(
    curve_image, sample_data, tmp_path, ml_home, docker_client
):
    from ml_lifecycle.errors import ComputeError, StoreError

    out = tmp_path / "out"
    context = task_context(task_id="tune")
    op, thread, raised = long_trials_in_a_thread(curve_image, sample_data, out, context)
    try:
        trials = wait_until(lambda: running_state(out, 2), "two trials running", timeout_s=120)["trials"]
        # A trial stopped before its program handles SIGTERM ignores it (PID 1) until the stop grace ends: wait for
        # both to train, as a stop in the first instant is not what this test is about.
        for trial in trials:
            wait_until(lambda t=trial: _has_trained(docker_client, t["name"]), f"{trial['name']} training", 60)
        record = out / trials[0]["name"] / "status.json"
        agent_pid = wait_until(lambda: json.loads(record.read_text()).get("agent", {}).get("pid"), "an agent", 60)
        # The first trial's record cannot be read any more (its agent is gone, so nothing writes it back).
        os.kill(agent_pid, signal.SIGKILL)
        record.unlink()
        record.symlink_to(record)
        thread.join(timeout=120)
        assert raised and isinstance(raised[0], StoreError), raised

        with pytest.raises(ComputeError, match=trials[0]["name"]) as stopping:
            op.on_kill()
        assert trials[1]["name"] not in str(stopping.value)
        _wait_until_none_runs(docker_client, job=trials[1]["name"])  # the second trial was stopped all the same
        assert [t["status"] for t in tuning_state(out)["trials"]] == ["InProgress", "Stopped"]
    finally:
        _remove_containers(docker_client, context["run_id"])


def test_at_its_max_runtime_a_tuning_job_stops_its_trials_and_ends_with_the_best_so_far(
    curve_image, sample_data, tmp_path, ml_home, docker_client
):
    out = tmp_path / "out"
    context = task_context(task_id="tune")
    result = TuneOnEC2Operator(
        task_id="tune",
        strategy="Grid",
        # One trial ends in a second; the other would run for five minutes.
        parameter_ranges={"CategoricalParameterRanges": [{"Name": "epochs", "Values": ["3", "600"]}]},
        max_parallel_training_jobs=2,
        max_tuning_runtime_s=120,  # SageMaker's least MaxRuntimeInSeconds
        hyperparameters={"step_s": 0.5},
        **tuning_args(curve_image, sample_data, out),
    ).execute(context)

    trials = {t["hyperparameters"]["epochs"]: t for t in tuning_state(out)["trials"]}
    assert trials["3"]["status"] == "Completed"
    assert trials["600"]["status"] == "Stopped"
    assert "MaxRuntimeInSeconds" in trials["600"]["failure_reason"]
    assert len(trials["600"]["series"]) < 600  # it was stopped, not left to finish
    assert trials["600"]["ended_epoch_s"] - tuning_state(out)["started_epoch_s"] >= 120
    assert result["best_training_job_name"] == trials["3"]["name"]
    assert managed_containers(docker_client, run_id=context["run_id"]) == []


def _remove_containers(docker_client: Any, run_id: str) -> None:
    """Remove what a test's tuning run left on the engine (its trials' containers).

    :param docker_client: a docker SDK client.
    :param run_id: the DAG run of the tuning task.
    """
    import docker

    for container in managed_containers(docker_client, run_id=run_id):
        with contextlib.suppress(docker.errors.NotFound):  # its agent removed it meanwhile
            container.remove(force=True)


def _has_trained(docker_client: Any, job_name: str) -> bool:
    """Tell whether the trial's container printed an epoch (so its program runs and handles SIGTERM).

    :param docker_client: a docker SDK client.
    :param job_name: the trial's training job name.
    """
    import docker

    try:
        return any(b"epoch=" in c.logs() for c in managed_containers(docker_client, job=job_name))
    except docker.errors.NotFound:
        return False


def _wait_until_none_runs(docker_client: Any, **labels: str) -> None:
    """Wait until none of our containers with these labels runs.

    :param docker_client: a docker SDK client.
    :param labels: label filters, as managed_containers takes them.
    """
    running = lambda: [c for c in managed_containers(docker_client, **labels) if c.status == "running"]  # noqa: E731
    wait_until(lambda: not running(), f"no container of {labels} running", timeout_s=180)
