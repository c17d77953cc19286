"""Wall time of ``bash scripts/demo.sh``: a first run after ``bash scripts/clean.sh``, then a second run.

The first run is what a new user sees (the registry is started, the Airflow database migrated, the data generated,
the image built and pushed, the DAG run end to end); the second is what a returning user sees (everything is in
place; the DAG runs again). clean.sh removes .demo/ and .airflow/ and every container labelled by ml_lifecycle.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import LOGS, REPO, RESULTS, BenchError, project_env, require_engine, summary, tail

NAME = "demo"
TITLE = "make demo: first run after make clean, and a second run"
DEFAULT_RUNS = 1
TIMEOUT_S = 1200
STATE_RE = re.compile(r"demo: DAG run state=(\w+)")
FINISHED_RE = re.compile(r"demo: finished in (\d+) s")


def _script(name: str, log_path: Path, env: dict[str, str]) -> float:
    """Run scripts/<name> with its output in log_path; return the wall time in seconds."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        started = time.perf_counter()
        try:
            code = subprocess.run(
                ["bash", f"scripts/{name}"],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=TIMEOUT_S,
                check=False,
            ).returncode
        except subprocess.TimeoutExpired as err:
            raise BenchError(f"scripts/{name} ran longer than {TIMEOUT_S} s; see {log_path}") from err
        elapsed = time.perf_counter() - started
    if code != 0:
        raise BenchError(f"scripts/{name} failed ({code}); the end of {log_path}:\n{tail(log_path)}")
    return elapsed


def _facts(log_path: Path) -> dict[str, Any]:
    text = log_path.read_text(errors="replace")
    state = STATE_RE.findall(text)
    finished = FINISHED_RE.findall(text)
    return {
        "dag_run_state": state[-1] if state else None,
        "script_reported_s": int(finished[-1]) if finished else None,
        "log": str(log_path.relative_to(RESULTS)),
    }


def run(runs: int | None, say: Callable[[str], None]) -> dict[str, Any]:
    """Clean, time a first demo, then `runs` more demos (default 1: the second run)."""
    runs = runs or DEFAULT_RUNS
    require_engine()
    env = project_env()
    logs = LOGS / NAME
    say("  bash scripts/clean.sh")
    clean_s = _script("clean.sh", logs / "clean.log", env)
    say("  first run: bash scripts/demo.sh (after clean)")
    first = _script("demo.sh", logs / "first.log", env)
    first_facts = _facts(logs / "first.log")
    say(f"  first run: {first:.1f} s (DAG run {first_facts['dag_run_state']})")
    again: list[float] = []
    again_facts = []
    for i in range(1, runs + 1):
        log_path = logs / f"again-{i}.log"
        say(f"  returning run {i}/{runs}: bash scripts/demo.sh")
        again.append(_script("demo.sh", log_path, env))
        again_facts.append(_facts(log_path))
        say(f"  returning run {i}/{runs}: {again[-1]:.1f} s (DAG run {again_facts[-1]['dag_run_state']})")
    for facts in [first_facts, *again_facts]:
        if facts["dag_run_state"] not in (None, "success"):
            raise BenchError(f"The demo's DAG run ended {facts['dag_run_state']}; see bench/results/{facts['log']}")
    first_summary, again_summary = summary([first]), summary(again)
    return {
        "clean_s": clean_s,
        "first": {**first_summary, **first_facts},
        "second": {**again_summary, "runs_detail": again_facts},
        "ratio": again_summary["median"] / first_summary["median"],
    }
