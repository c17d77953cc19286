"""The lifecycle DAG end to end through Airflow itself: `airflow dags test` on SQLite, real containers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

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


def test_retrain_and_deploy_runs_end_to_end(tmp_path, example_image, registry, docker_client):
    home = tmp_path / "ml-home"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "ML_LIFECYCLE_HOME": str(home),
    }
    env.pop("ML_LIFECYCLE_ARTIFACT_ROOT", None)
    subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "examples" / "data" / "generate.py"),
            "--out",
            str(home / "artifacts" / "data"),
        ],
        check=True,
        capture_output=True,
    )
    log = tmp_path / "airflow.log"
    assert _airflow(["db", "migrate"], env, log).returncode == 0, log.read_text()[-3000:]
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

        left = docker_client.containers.list(all=True, filters={"label": "ml-lifecycle.managed=true"})
        run_left = [c.name for c in left if c.labels.get("ml-lifecycle.kind") != "endpoint"]
        assert [c for c in run_left if "retrain-and-deploy" in c] == []
    finally:
        subprocess.run(
            [str(Path(sys.executable).with_name("ml-lifecycle")), "delete-endpoint", endpoint],
            env=env,
            check=False,
            capture_output=True,
        )
