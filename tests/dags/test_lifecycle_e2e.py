"""The lifecycle DAG end to end through Airflow itself: `airflow dags test` on SQLite, real containers."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.docker, pytest.mark.airflow_e2e]


def _airflow(args: list[str], env: dict[str, str], log: Path) -> subprocess.CompletedProcess:
    """Run the airflow CLI of this interpreter's environment, keeping its output in a log file.

    :param args: the CLI arguments.
    :param env: the environment.
    :param log: where the output goes.
    """
    airflow = str(Path(sys.executable).with_name("airflow"))
    with log.open("ab") as out:
        return subprocess.run([airflow, *args], env=env, stdout=out, stderr=subprocess.STDOUT, timeout=900)


def _airflow_env(tmp_path: Path, *data_args: str) -> dict[str, str]:
    """Return the environment of an Airflow on SQLite whose artifact root holds the generated sample data.

    :param tmp_path: the test's folder (Airflow's home and the artifact root go there).
    :param data_args: arguments for examples/data/generate.py beyond --out.
    """
    home = tmp_path / "ml-home"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "ML_LIFECYCLE_HOME": str(home),
    }
    env.pop("ML_LIFECYCLE_ARTIFACT_ROOT", None)
    generate = REPO_ROOT / "examples" / "data" / "generate.py"
    out = str(home / "artifacts" / "data")
    subprocess.run([sys.executable, str(generate), "--out", out, *data_args], check=True, capture_output=True)
    log = tmp_path / "airflow.log"
    assert _airflow(["db", "migrate"], env, log).returncode == 0, log.read_text()[-3000:]
    return env


def _run_containers_left(docker_client) -> list[str]:
    """Return the job containers of the lifecycle DAG still on the engine (endpoints are meant to stay).

    :param docker_client: a docker SDK client of the engine.
    """
    labels = ["ml-lifecycle.managed=true", "ml-lifecycle.dag-id=retrain_and_deploy"]
    left = docker_client.containers.list(all=True, filters={"label": labels})
    return [c.name for c in left if c.labels.get("ml-lifecycle.kind") != "endpoint"]


def test_retrain_and_deploy_runs_end_to_end(tmp_path, example_image, registry, docker_client):
    env = _airflow_env(tmp_path)
    home = tmp_path / "ml-home"
    log = tmp_path / "airflow.log"
    endpoint = f"e2e-{uuid.uuid4().hex[:8]}"
    conf = json.dumps({"endpoint_name": endpoint, "hyperparameters": {"l2": "0.1"}})
    try:
        run = _airflow(["dags", "test", "retrain_and_deploy", "-c", conf], env, log)
        output = log.read_text()
        assert run.returncode == 0, output[-5000:]
        assert "state=success" in output and "DagRun Finished" in output

        artifacts = home / "artifacts"
        assert len(list(artifacts.glob("training/*/output/model.tar.gz"))) == 1
        manifest = json.loads((artifacts / "registry" / "linear" / "1" / "manifest.json").read_text())
        assert manifest["lineage"]["hyperparameters"]["l2"] == "0.1"
        assert manifest["lineage"]["image_digest"].startswith(f"{registry}/ml-lifecycle/linear@sha256:")
        outputs = list(artifacts.glob("predictions/*/score.csv.out"))
        assert len(outputs) == 1
        assert len(outputs[0].read_text().splitlines()) == len(
            (artifacts / "data" / "score" / "score.csv").read_text().splitlines()
        )

        record = json.loads((home / "endpoints" / f"{endpoint}.json").read_text())
        request = urllib.request.Request(
            f"{record['url']}/invocations", data=b"1,1,1,1,1,1,1,1\n", headers={"Content-Type": "text/csv"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            float(response.read().decode().strip())

        assert _run_containers_left(docker_client) == []
    finally:
        subprocess.run(
            [str(Path(sys.executable).with_name("ml-lifecycle")), "delete-endpoint", endpoint],
            env=env,
            check=False,
            capture_output=True,
        )


def _task_states(run_id: str, env: dict[str, str], log: Path) -> dict[str, str]:
    """Return the state of each task of a run of the lifecycle DAG, read through the airflow CLI.

    :param run_id: the DAG run.
    :param env: the environment.
    :param log: where the CLI's errors go.
    """
    airflow = str(Path(sys.executable).with_name("airflow"))
    out = subprocess.run(
        [airflow, "tasks", "states-for-dag-run", "retrain_and_deploy", run_id, "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {row["task_id"]: row["state"] for row in json.loads(out[out.index("[") :])}


def test_processing_then_tuning_publish_the_best_trial_trained_on_the_split(
    tmp_path, example_image, registry, docker_client
):
    env = _airflow_env(tmp_path, "--rows", "200", "--score-rows", "10", "--files", "1")
    artifacts = tmp_path / "ml-home" / "artifacts"
    log = tmp_path / "airflow.log"
    conf = {
        "process_raw_data": True,
        "validation_fraction": 0.25,
        "tune": True,
        "max_trials": 2,
        "max_parallel_trials": 2,
        "hyperparameters": {"l2": "5"},
        "deploy": False,
    }
    run = _airflow(["dags", "test", "retrain_and_deploy", "-c", json.dumps(conf)], env, log)
    output = log.read_text()
    assert run.returncode == 0 and "state=success" in output, output[-5000:]
    run_id = re.search(r"run_id=(\S+?)[,\s]", output[output.index("DagRun Finished") :]).group(1)
    states = _task_states(run_id, env, log)
    assert (states["split_raw_data"], states["tune"], states["train"]) == ("success", "success", "skipped")
    assert (states["export_model"], states["batch_transform"], states["teardown"]) == ("success",) * 3

    # The split: every raw row went to exactly one of the two outputs.
    (processed,) = (artifacts / "processed").iterdir()
    split_rows = {name: _rows(processed / name) for name in ("train", "validation")}
    assert sorted(split_rows["train"] + split_rows["validation"]) == sorted(_rows(artifacts / "data" / "raw"))
    assert split_rows["train"] and split_rows["validation"]

    # The tuning: its best trial trained on the split, and is the model published, with the searched l2.
    (state_file,) = artifacts.glob("training/*/tuning-state.json")
    state = json.loads(state_file.read_text())
    assert state["status"] == "Completed" and len(state["trials"]) == 2
    best = min(state["trials"], key=lambda t: t["objective"])
    lineage = json.loads((artifacts / "registry" / "linear" / "1" / "manifest.json").read_text())["lineage"]
    assert lineage["training_job"] == best["name"]
    assert lineage["hyperparameters"]["l2"] == best["hyperparameters"]["l2"] != "5"
    assert {name: Path(urlparse(c["uri"]).path) for name, c in lineage["inputs"].items()} == {
        "train": processed / "train",
        "validation": processed / "validation",
    }
    assert _run_containers_left(docker_client) == []


def _rows(folder: Path) -> list[str]:
    """Return the non-empty lines of every file below a folder.

    :param folder: the folder.
    """
    return [line for path in folder.rglob("*") if path.is_file() for line in path.read_text().splitlines() if line]
