"""Wall time of ``bash scripts/demo.sh``: a first run after ``bash scripts/clean.sh``, then a second run.

The first run is what a new user sees (the registry is started, the Airflow database migrated, the data generated,
the image built and pushed, the DAG run end to end); the second is what a returning user sees (everything is in
place; the DAG runs again). clean.sh removes .demo/ and .airflow/ and every container labelled by ml_lifecycle.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import LOGS, REPO, RESULTS, BenchError, project_env, require_engine, summary, tail

NAME = "demo"
TITLE = "make demo: first run after make clean, and a second run"
DEFAULT_RUNS = 1
TIMEOUT_S = 1200
CLEAN_ATTEMPTS = 3
SLOWEST = 6
DAG_STEP = "demo: running the retrain_and_deploy DAG"
TS_RE = re.compile(r"^(\d{4}-\d\d-\d\dT[0-9:.]+Z?) ")
START_RE = re.compile(r"\[DAG TEST\] starting task_id=(\S+)")
END_RE = re.compile(r"\[DAG TEST\] end task task_id=(\S+)")
STATE_RE = re.compile(r"demo: DAG run state=(\w+)")
FINISHED_RE = re.compile(r"demo: finished in (\d+) s")


def _script(name: str, log_path: Path, env: dict[str, str]) -> tuple[float, list[dict[str, Any]]]:
    """Run scripts/<name>, its output timestamped in log_path; return (wall seconds, the steps of its output).

    Each step is one line of output, when it came (``at_s`` from the start, ``epoch``) and the time until the next
    line or the end (``took_s``): where the script spent its time.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    lines: list[tuple[float, str]] = []
    with open(log_path, "w", encoding="utf-8") as log:
        started = time.perf_counter()
        started_epoch = time.time()
        proc = subprocess.Popen(
            ["bash", f"scripts/{name}"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        timed_out = threading.Event()

        def stop() -> None:
            timed_out.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        watchdog = threading.Timer(TIMEOUT_S, stop)
        watchdog.start()
        try:
            assert proc.stdout is not None
            for raw in proc.stdout:
                at = time.perf_counter() - started
                text = raw.decode("utf-8", "replace").rstrip("\n")
                lines.append((at, text))
                log.write(f"[{at:7.2f}] {text}\n")
                log.flush()
            code = proc.wait()
        finally:
            watchdog.cancel()
        elapsed = time.perf_counter() - started
    if timed_out.is_set():
        raise BenchError(f"scripts/{name} ran longer than {TIMEOUT_S} s and was killed; see {log_path}")
    if code != 0:
        raise BenchError(f"scripts/{name} failed ({code}); the end of {log_path}:\n{tail(log_path)}")
    ends = [at for at, _ in lines[1:]] + [elapsed]
    steps = [
        {"at_s": at, "took_s": end - at, "epoch": started_epoch + at, "line": text[:160]}
        for (at, text), end in zip(lines, ends, strict=True)
    ]
    if lines:
        steps.insert(
            0, {"at_s": 0.0, "took_s": lines[0][0], "epoch": started_epoch, "line": "(until the first line of output)"}
        )
    return elapsed, steps


def _facts(log_path: Path) -> dict[str, Any]:
    text = log_path.read_text(errors="replace")
    state = STATE_RE.findall(text)
    finished = FINISHED_RE.findall(text)
    return {
        "dag_run_state": state[-1] if state else None,
        "script_reported_s": int(finished[-1]) if finished else None,
        "log": str(log_path.relative_to(RESULTS)),
    }


def _dag_test(steps: list[dict[str, Any]], dag_log: Path, elapsed: float) -> dict[str, Any] | None:
    """Split the demo's `airflow dags test` step using the timestamps of its own log (demo-dags-test.log)."""
    running = next((st for st in steps if st["line"].startswith(DAG_STEP)), None)
    if running is None or not dag_log.is_file():
        return None
    stamps: list[tuple[float, str]] = []
    for line in dag_log.read_text(errors="replace").splitlines():
        found = TS_RE.match(line)
        if found:
            stamps.append((dt.datetime.fromisoformat(found.group(1)).timestamp(), line))
    created = next((t for t, line in stamps if "Created dag run" in line), None)
    if not stamps or created is None:
        return None
    starts = {m.group(1): t for t, line in stamps if (m := START_RE.search(line))}
    ends = {m.group(1): t for t, line in stamps if (m := END_RE.search(line))}
    tasks = {task: ends[task] - start for task, start in starts.items() if task in ends}
    cli_end = running["epoch"] + running["took_s"]
    first_run = next((t for t, line in stamps if "[DAG TEST] running task" in line), None)
    first_started = next((t for t, line in stamps if "Task started" in line), None)
    first_task = min(starts.values()) if starts else created
    last_task = max(ends.values()) if ends else stamps[-1][0]
    return {
        "before_dag_test_s": running["at_s"],
        "cli_startup_s": stamps[0][0] - running["epoch"],
        "parse_and_create_run_s": created - stamps[0][0],
        "until_first_task_s": first_task - created,
        "tasks_s": tasks,
        "execution_api_start_s": first_started - first_run if first_run and first_started else None,
        "between_tasks_s": (last_task - first_task) - sum(tasks.values()),
        "after_last_task_until_cli_exit_s": cli_end - last_task,
        "after_dag_test_s": elapsed - (running["at_s"] + running["took_s"]),
    }


def _slowest(steps: list[dict[str, Any]], count: int = SLOWEST) -> list[dict[str, Any]]:
    """The steps that took longest, in the order they ran."""
    top = sorted(steps, key=lambda st: -st["took_s"])[:count]
    return sorted(top, key=lambda st: st["at_s"])


def _keep(source: Path, target: Path) -> None:
    with contextlib.suppress(OSError):
        shutil.copyfile(source, target)


def run(runs: int | None, say: Callable[[str], None]) -> dict[str, Any]:
    """Clean, time a first demo, then `runs` more demos (default 1: the second run)."""
    runs = runs or DEFAULT_RUNS
    require_engine()
    env = project_env()
    logs = LOGS / NAME
    say("  bash scripts/clean.sh")
    for attempt in range(1, CLEAN_ATTEMPTS + 1):
        try:
            clean_s, _ = _script("clean.sh", logs / "clean.log", env)
            break
        except BenchError:
            # Another user of the engine may be removing the same containers at the same moment.
            if attempt == CLEAN_ATTEMPTS:
                raise
            say(f"  clean.sh failed (attempt {attempt}); retrying in 2 s")
            time.sleep(2)
    say("  first run: bash scripts/demo.sh (after clean)")
    dag_log = Path(env["ML_LIFECYCLE_HOME"]) / "logs" / "demo-dags-test.log"
    first, steps = _script("demo.sh", logs / "first.log", env)
    first_facts = {
        **_facts(logs / "first.log"),
        "slowest_steps": _slowest(steps),
        "dag_test": _dag_test(steps, dag_log, first),
    }
    _keep(dag_log, logs / "first-dags-test.log")
    say(f"  first run: {first:.1f} s (DAG run {first_facts['dag_run_state']})")
    again: list[float] = []
    again_facts = []
    for i in range(1, runs + 1):
        log_path = logs / f"again-{i}.log"
        say(f"  returning run {i}/{runs}: bash scripts/demo.sh")
        seconds, steps = _script("demo.sh", log_path, env)
        again.append(seconds)
        again_facts.append(
            {**_facts(log_path), "slowest_steps": _slowest(steps), "dag_test": _dag_test(steps, dag_log, seconds)}
        )
        _keep(dag_log, logs / f"again-{i}-dags-test.log")
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
