"""TuneOnEC2Operator on the local engine: trials as training jobs, watched on the engine by their owner labels."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from support.helpers import managed_containers, task_context, wait_until
from support.tuning_runs import OPTIONS, tuning_args, tuning_state

from ml_lifecycle import ExportArtifactsOperator, TuneOnEC2Operator

pytestmark = pytest.mark.docker

EPOCHS = 60  # of every trial of the early stopping test: the same training definition, as in a real tuning job

CHILD = """
import json, sys
from types import SimpleNamespace
from ml_lifecycle import TuneOnEC2Operator
args = json.loads(sys.argv[1])
context = {"ti": SimpleNamespace(dag_id="tests", task_id="tune", map_index=-1), "run_id": args.pop("run_id")}
TuneOnEC2Operator(task_id="tune", **args).execute(context)
"""


class EngineWatch:
    """Follow our containers of one DAG run on the engine: how many were created, and how many ran at once."""

    def __init__(self, client: Any, run_id: str) -> None:
        """Start following the engine's events.

        :param client: a docker SDK client.
        :param run_id: the DAG run whose containers count.
        """
        self.created = 0
        self.running: set[str] = set()
        self.most_at_once = 0
        self._events = client.events(
            decode=True, filters={"type": "container", "label": f"ml-lifecycle.run-id={run_id}"}
        )
        threading.Thread(target=self._follow, daemon=True).start()

    def _follow(self) -> None:
        """Count creations and keep the most containers running at once."""
        for event in self._events:
            action = event.get("Action") or event.get("status")
            if action == "create":
                self.created += 1
            elif action == "start":
                self.running.add(event["id"])
                self.most_at_once = max(self.most_at_once, len(self.running))
            elif action == "die":
                self.running.discard(event["id"])

    def close(self) -> None:
        """Stop following (after the last events arrived)."""
        time.sleep(0.5)
        self._events.close()


def test_grid_enumerates_its_grid_never_above_max_parallel_and_exports_the_best(
    curve_image, sample_data, tmp_path, ml_home, docker_client
):
    out = tmp_path / "out"
    context = task_context(task_id="tune")
    ranges = {"CategoricalParameterRanges": [OPTIONS, {"Name": "n", "Values": ["1", "3"]}]}
    watch = EngineWatch(docker_client, context["run_id"])
    op = TuneOnEC2Operator(
        task_id="tune",
        strategy="Grid",
        parameter_ranges=ranges,
        max_parallel_training_jobs=2,
        hyperparameters={"epochs": 3, "step_s": 0.3, "x": 0.3},
        **tuning_args(curve_image, sample_data, out),
    )
    result = op.execute(context)
    watch.close()

    state = tuning_state(out)
    combos = sorted((t["hyperparameters"]["opt"], t["hyperparameters"]["n"]) for t in state["trials"])
    assert combos == sorted((o, n) for o in ("a", "b", "c") for n in ("1", "3"))
    assert watch.created == 6 and 1 <= watch.most_at_once <= 2
    assert result["best_hyperparameters"] == {"opt": "a", "n": "3"}
    assert result["objective"]["value"] == pytest.approx(1 / 3, abs=1e-5)
    assert result["trials"]["Completed"] == 6
    assert managed_containers(docker_client, run_id=context["run_id"]) == []

    published = ExportArtifactsOperator(
        task_id="export", model_uri=result["model_uri"], model_name="curve", registry_uri=f"file://{tmp_path}/registry"
    ).execute(task_context(task_id="export"))
    manifest = json.loads(Path(published["manifest_uri"].removeprefix("file://")).read_text())
    assert manifest["lineage"]["training_job"] == result["best_training_job_name"]
    assert manifest["lineage"]["hyperparameters"]["opt"] == "a"
    assert manifest["lineage"]["hyperparameters"]["_tuning_objective_metric"] == "loss"  # as SageMaker adds it


def test_a_retried_task_resumes_without_running_a_finished_trial_again(
    curve_image, sample_data, tmp_path, ml_home, docker_client
):
    out = tmp_path / "out"
    context = task_context(task_id="tune")
    ranges = {"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]}
    args = tuning_args(
        curve_image,
        sample_data,
        out,
        strategy="Random",
        parameter_ranges=ranges,
        max_training_jobs=5,
        max_parallel_training_jobs=2,
        hyperparameters={"epochs": 4, "step_s": 0.4},
    )
    watch = EngineWatch(docker_client, context["run_id"])
    task = subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps({**args, "run_id": context["run_id"]})], start_new_session=True
    )

    def two_finished() -> bool:
        state = tuning_state(out)
        return state is not None and sum(t["status"] == "Completed" for t in state["trials"]) >= 2

    wait_until(two_finished, "two trials completed", timeout_s=120)
    os.killpg(task.pid, signal.SIGKILL)
    task.wait()
    before = tuning_state(out)
    finished_before = {t["name"] for t in before["trials"] if t["status"] != "InProgress"}

    result = TuneOnEC2Operator(task_id="tune", **args).execute(context)
    watch.close()

    after = tuning_state(out)
    assert [t["name"] for t in after["trials"]][: len(before["trials"])] == [t["name"] for t in before["trials"]]
    assert len(after["trials"]) == 5 and all(t["status"] == "Completed" for t in after["trials"])
    assert watch.created == 5  # one container per trial: none ran twice
    assert watch.most_at_once <= 2  # MaxParallelTrainingJobs across the kill and the retry too
    assert {t["name"] for t in after["trials"]} >= finished_before
    best = min(after["trials"], key=lambda t: t["objective"])
    assert result["best_training_job_name"] == best["name"]


def test_early_stopping_stops_a_trial_whose_curve_is_hopeless(curve_image, sample_data, tmp_path, ml_home):
    out = tmp_path / "out"
    parent = TuneOnEC2Operator(
        task_id="parent",
        strategy="Grid",
        parameter_ranges={"CategoricalParameterRanges": [OPTIONS]},
        max_parallel_training_jobs=3,
        hyperparameters={"epochs": EPOCHS, "step_s": 0.01},
        **tuning_args(curve_image, sample_data, out),
    ).execute(task_context(task_id="parent"))
    hopeless = {"CategoricalParameterRanges": [{"Name": "opt", "Values": ["bad"]}]}
    warm_start = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": parent["tuning_job_name"]}],
        "WarmStartType": "IdenticalDataAndAlgorithm",
    }
    result = TuneOnEC2Operator(
        task_id="child",
        strategy="Grid",
        parameter_ranges=hopeless,
        early_stopping_type="Auto",
        warm_start_config=warm_start,
        hyperparameters={"epochs": EPOCHS, "step_s": 0.25},
        **tuning_args(curve_image, sample_data, out),
    ).execute(task_context(task_id="child"))

    (trial,) = _child_trials(out, result)
    assert trial["status"] == "Stopped" and trial["early_stopped"] is True
    assert 2 <= len(trial["series"]) < EPOCHS
    assert result["best_training_job_name"].startswith(parent["tuning_job_name"])  # the parents' best wins


def _child_trials(out: Path, result: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the trials of one tuning job under out.

    :param out: the output folder.
    :param result: the tuning task's result.
    """
    return json.loads((out / result["tuning_job_name"] / "tuning-state.json").read_text())["trials"]


@pytest.mark.parametrize(
    ("strategy", "settings"),
    [
        ("Bayesian", {"max_training_jobs": 4, "max_parallel_training_jobs": 2}),
        (
            "Hyperband",
            {
                "max_training_jobs": 6,
                "max_parallel_training_jobs": 3,
                "strategy_config": {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 9}},
            },
        ),
    ],
)
def test_bayesian_and_hyperband_run_deferred_through_the_triggerer(
    strategy, settings, curve_image, sample_data, tmp_path, ml_home, docker_client
):
    from airflow.sdk.exceptions import TaskDeferred

    from ml_lifecycle.triggers.tuning_trials import TuningTrialsTrigger

    out = tmp_path / "out"
    context = task_context(task_id="tune")
    ranges = {
        "ContinuousParameterRanges": [{"Name": "x", "MinValue": "0.01", "MaxValue": "1", "ScalingType": "Logarithmic"}],
        "IntegerParameterRanges": [{"Name": "n", "MinValue": 1, "MaxValue": 9}],
    }
    args = tuning_args(
        curve_image,
        sample_data,
        out,
        strategy=strategy,
        parameter_ranges=ranges,
        hyperparameters={"epochs": 9, "step_s": 0.2},
        deferrable=True,
        curve_check_s=1.0,
        **settings,
    )
    wakes = 0
    call = lambda: TuneOnEC2Operator(task_id="tune", **args).execute(context)  # noqa: E731
    while True:
        try:
            result = call()
            break
        except TaskDeferred as deferred:
            wakes += 1
            classpath, kwargs = deferred.trigger.serialize()
            assert classpath == "ml_lifecycle.triggers.tuning_trials.TuningTrialsTrigger"

            async def first_event(kwargs: dict[str, Any] = kwargs) -> Any:
                return await TuningTrialsTrigger(**kwargs).run().__anext__()

            event = asyncio.run(first_event())
            resume = deferred.kwargs or {}
            call = lambda event=event, resume=resume: TuneOnEC2Operator(  # noqa: E731
                task_id="tune", **args
            ).execute_complete(context, event.payload, **resume)

    trials = tuning_state(out)["trials"]
    assert wakes >= 1 and len(trials) == settings["max_training_jobs"]
    assert all(t["status"] in ("Completed", "Stopped") for t in trials)
    completed = [t for t in trials if t["status"] == "Completed"]
    assert result["objective"]["value"] == min(t["objective"] for t in completed)
    assert managed_containers(docker_client, run_id=context["run_id"]) == []
