"""The README's tuning example runs in Airflow itself: `airflow dags test` on SQLite, deferred, real containers."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.docker, pytest.mark.airflow_e2e]


def _readme_example() -> str:
    """Return the python block of the README's "Hyperparameter tuning" section."""
    text = (REPO_ROOT / "README.md").read_text()
    section = text.split("## Hyperparameter tuning\n", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_tuning_example_tunes_and_publishes_the_best_model(tmp_path, curve_image):
    data = tmp_path / "data" / "train"
    data.mkdir(parents=True)
    (data / "unused.csv").write_text("0\n")
    example = _readme_example().replace("/tmp/", f"{tmp_path}/").replace("ml-lifecycle/curve:dev", curve_image)
    body = "\n".join(f"    {line}" if line else "" for line in example.splitlines())
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "readme_tuning.py").write_text(
        f'from airflow.sdk import DAG\n\nwith DAG("readme_tuning", schedule=None):\n{body}\n'
    )
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "ML_LIFECYCLE_HOME": str(tmp_path / "ml-home"),
    }
    airflow = str(Path(sys.executable).with_name("airflow"))
    log = tmp_path / "airflow.log"
    with log.open("ab") as out:
        migrated = subprocess.run([airflow, "db", "migrate"], env=env, stdout=out, stderr=subprocess.STDOUT)
        assert migrated.returncode == 0, log.read_text()[-3000:]
        run = subprocess.run(
            [airflow, "dags", "test", "readme_tuning"], env=env, stdout=out, stderr=subprocess.STDOUT, timeout=900
        )
    output = log.read_text()
    assert run.returncode == 0 and "state=success" in output, output[-5000:]

    (state_file,) = (tmp_path / "ml" / "tuning").glob("*/tuning-state.json")
    state = json.loads(state_file.read_text())
    assert state["status"] == "Completed" and len(state["trials"]) == 12
    manifest = json.loads((tmp_path / "ml" / "registry" / "curve" / "1" / "manifest.json").read_text())
    best = min((t for t in state["trials"] if t["status"] == "Completed"), key=lambda t: t["objective"])
    assert manifest["lineage"]["training_job"] == best["name"]
