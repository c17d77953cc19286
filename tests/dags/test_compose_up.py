"""`docker compose up` of docker-compose.yaml with docker-compose.offline.yaml (nothing pulled): the API server
answers on its port with the three DAGs paused and no import errors, a run of reap_orphans (unpaused through the
REST API, as a user would) succeeds, and `down -v` leaves no container or volume of the project.

The stack runs as its own compose project on free host ports (the suite's registry holds 127.0.0.1:5000, and the
Airflow services use the host's network), with its job folders under tmp_path. Its DAGs start paused, the compose
file's default (AIRFLOW_DAGS_PAUSED_AT_CREATION is left unset to check it): unpaused, the scheduled
retrain_and_deploy would run at once and deploy the endpoint "linear" on the host's engine, outside the project,
where `down` would not remove it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from test_compose_stack import OFFLINE_FILES, REPO_ROOT, build_airflow_image, compose_command

pytestmark = [pytest.mark.docker, pytest.mark.airflow_e2e]

THE_DAGS = {"retrain_and_deploy", "batch_scoring", "reap_orphans"}
PORT_VARIABLES = (
    "AIRFLOW_PORT",
    "AIRFLOW_SCHEDULER_HEALTH_PORT",
    "AIRFLOW_WORKER_LOG_PORT",
    "AIRFLOW_TRIGGERER_LOG_PORT",
    "POSTGRES_PORT",
    "S3_PORT",
    "S3_CONSOLE_PORT",
    "REGISTRY_PORT",
)
HEALTH_TIMEOUT_S = 300
DAGS_TIMEOUT_S = 180
RUN_TIMEOUT_S = 300
COMPONENTS = ("metadatabase", "scheduler", "triggerer", "dag_processor")


def _free_ports(count: int) -> list[int]:
    """Return ``count`` distinct TCP ports that nothing listens on now, on any interface."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _api(base: str, path: str, method: str = "GET", body: dict | None = None) -> Any:
    """Call the Airflow REST API (everyone is admin in this stack: no token) and return the decoded JSON."""
    request = urllib.request.Request(
        base + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _poll(what: str, timeout_s: float, probe: Any, logs: Any) -> Any:
    """Call ``probe`` every 2 s until it returns something truthy; fail with the stack's logs after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
            if last:
                return last
        except (urllib.error.URLError, OSError, json.JSONDecodeError, KeyError, TypeError) as err:
            last = err
        time.sleep(2)
    pytest.fail(f"{what} not within {timeout_s} s (last: {last!r})\n{logs()}")


@pytest.mark.timeout(2400)  # a cold build installs Airflow with pip; warm, the test takes a few minutes
def test_compose_up_offline_serves_the_three_dags_and_runs_one(docker_client, tmp_path: Path):
    compose = compose_command()
    image = build_airflow_image(docker_client)  # shared with test_compose_stack; cached layers after the first
    project = f"mlcup{uuid.uuid4().hex[:10]}"
    ports = dict(zip(PORT_VARIABLES, _free_ports(len(PORT_VARIABLES)), strict=True))
    env = {
        **os.environ,
        **{name: str(port) for name, port in ports.items()},
        "PWD": str(tmp_path),  # the job folders, ${PWD}/.demo
        "AIRFLOW_IMAGE_NAME": image,
        "AIRFLOW_ALL_ADMINS": "True",
    }
    env.pop("AIRFLOW_DAGS_PAUSED_AT_CREATION", None)  # the compose file's default, paused, is what is tested
    cli = [*compose, *OFFLINE_FILES, "-p", project]
    api = f"http://127.0.0.1:{ports['AIRFLOW_PORT']}"

    def run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run([*cli, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout)

    def logs() -> str:
        return run("logs", "--no-color", "--tail", "40", timeout=120).stdout[-8000:]

    try:
        # `up --build` would build the Airflow image once per Airflow service (five times the 1.5 GB context with
        # compose 1.29): build the three offline services here, and `up` finds the Airflow image built above.
        build = run("build", "postgres", "minio", "registry", timeout=1200)
        assert build.returncode == 0, (build.stdout + build.stderr)[-4000:]
        up = run("up", "-d")
        assert up.returncode == 0, (up.stdout + up.stderr)[-4000:] + logs()

        def healthy() -> bool:
            health = _api(api, "/api/v2/monitor/health")
            return all(health[part]["status"] == "healthy" for part in COMPONENTS)

        _poll("the API server reports every component healthy", HEALTH_TIMEOUT_S, healthy, logs)

        def the_dags() -> dict[str, dict]:
            dags = {d["dag_id"]: d for d in _api(api, "/api/v2/dags?limit=100")["dags"]}
            return dags if set(dags) >= THE_DAGS else {}

        dags = _poll("the three DAGs listed by /api/v2/dags", DAGS_TIMEOUT_S, the_dags, logs)
        errors = _api(api, "/api/v2/importErrors")
        assert errors["total_entries"] == 0, errors["import_errors"]
        assert {dag_id for dag_id in THE_DAGS if not dags[dag_id]["is_paused"]} == set()  # paused at creation

        # One run through the whole chain: scheduler, LocalExecutor, the task SDK's execution API, the S3 store
        # (moto) and the Docker socket. The reaper only removes managed containers past their deadline.
        # Unpaused first, as a user would (the UI's toggle, or the trigger form's "Unpause Dag on trigger").
        unpaused = _api(api, "/api/v2/dags/reap_orphans", "PATCH", {"is_paused": False})
        assert unpaused["is_paused"] is False, unpaused
        run_id = _api(api, "/api/v2/dags/reap_orphans/dagRuns", "POST", {"logical_date": None})["dag_run_id"]

        def finished() -> str:
            state = _api(api, f"/api/v2/dags/reap_orphans/dagRuns/{run_id}")["state"]
            return state if state in ("success", "failed") else ""

        state = _poll(f"reap_orphans run {run_id} finished", RUN_TIMEOUT_S, finished, logs)
        assert state == "success", logs()
    finally:
        down = run("down", "-v", "--remove-orphans")
    assert down.returncode == 0, down.stdout + down.stderr
    label = f"label=com.docker.compose.project={project}"
    left = subprocess.run(["docker", "ps", "-aq", "--filter", label], capture_output=True, text=True, check=True)
    assert left.stdout.split() == []
    volumes = subprocess.run(["docker", "volume", "ls", "-q", "--filter", label], capture_output=True, text=True)
    assert volumes.stdout.split() == []
