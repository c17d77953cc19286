"""Start a real Airflow 3 (api-server, scheduler with LocalExecutor, dag-processor) on SQLite for end-to-end tests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPONENTS = ("api-server", "scheduler", "dag-processor")


def free_port() -> int:
    """Return a TCP port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class AirflowStack:
    """A running Airflow: its URL, environment and processes.

    :param home: AIRFLOW_HOME.
    :param env: the environment every component runs with.
    :param port: the api-server's port.
    :param processes: component -> its process.
    """

    home: Path
    env: dict[str, str]
    port: int
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The api-server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def api(self, method: str, path: str, body: Any = None, timeout_s: float = 30) -> Any:
        """Call the REST API and return the decoded JSON (simple_auth_manager_all_admins needs no login).

        :param method: GET, POST, PATCH.
        :param path: e.g. ``/api/v2/dags``.
        :param body: a JSON body, or None.
        :param timeout_s: the request timeout.
        """
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return json.loads(response.read() or b"null")

    def wait_for(self, what: str, check: Any, timeout_s: float, interval_s: float = 1.0) -> Any:
        """Poll check() until it returns a truthy value; fail with the components' logs after timeout_s.

        :param what: what is awaited, for the message.
        :param check: returns a truthy value when ready (exceptions count as not ready).
        :param timeout_s: the most seconds to wait.
        :param interval_s: seconds between polls.
        """
        deadline = time.monotonic() + timeout_s
        last: Any = None
        while time.monotonic() < deadline:
            self.require_alive()
            try:
                result = check()
                if result:
                    return result
            except (OSError, urllib.error.URLError, ValueError, KeyError) as err:
                last = err
            time.sleep(interval_s)
        raise AssertionError(f"Timed out waiting for {what} (last error: {last})\n{self.log_tails()}")

    def require_alive(self) -> None:
        """Fail with the logs when a component exited."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise AssertionError(f"airflow {name} exited with {process.returncode}\n{self.log_tails()}")

    def log_tails(self, lines: int = 40) -> str:
        """Return the last lines of each component's log."""
        out = []
        for name in self.processes:
            path = self.home / f"{name}.log"
            text = path.read_text(errors="replace").splitlines()[-lines:] if path.exists() else []
            out.append(f"--- airflow {name} ---\n" + "\n".join(text))
        return "\n".join(out)

    def stop(self) -> None:
        """Stop every component (SIGTERM, then SIGKILL after 30 s)."""
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def start_airflow(home: Path, extra_env: dict[str, str]) -> AirflowStack:
    """Migrate a SQLite database and start the api-server, the scheduler (LocalExecutor) and the dag-processor.

    :param home: an empty folder for AIRFLOW_HOME.
    :param extra_env: more environment (ML_LIFECYCLE_HOME, ...).
    """
    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        **extra_env,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__API_AUTH__JWT_SECRET": "ml-lifecycle-e2e-secret-0123456789abcdef",
        "AIRFLOW__API__SECRET_KEY": "ml-lifecycle-e2e-secret",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
    }
    env.pop("AIRFLOW_CONFIG", None)
    airflow = str(Path(sys.executable).with_name("airflow"))
    with (home / "migrate.log").open("wb") as log:
        subprocess.run(
            [airflow, "db", "migrate"], env=env, stdout=log, stderr=subprocess.STDOUT, check=True, timeout=600
        )
    stack = AirflowStack(home, env, port)
    commands = {
        "api-server": [airflow, "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        "scheduler": [airflow, "scheduler"],
        "dag-processor": [airflow, "dag-processor"],
    }
    for name in COMPONENTS:
        log = (home / f"{name}.log").open("wb")
        stack.processes[name] = subprocess.Popen(
            commands[name], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        stack.wait_for("the api-server", lambda: stack.api("GET", "/api/v2/monitor/health"), timeout_s=180)
    except BaseException:
        stack.stop()
        raise
    return stack
