"""Start a real Airflow 3 with the CeleryExecutor for end-to-end tests: Debian's redis-server as the broker on a free
port, the api-server, the scheduler, the dag-processor and two named `airflow celery worker` processes, on SQLite.

Every process starts in its own session, so a worker can be killed whole (its pool, the task supervisors and the
task processes share its session) while anything that left the session, as a training job's agent does, survives.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from airflow_stack import AirflowStack, free_port

TESTS_CELERY = Path(__file__).resolve().parent
WORKER_CONCURRENCY = 1
# A task whose supervisor stopped heartbeating is failed (and retried) after this many seconds; Airflow's default
# is 300. The supervisors heartbeat every MIN_HEARTBEAT_INTERVAL_S, well inside it, also on a busy machine.
HEARTBEAT_TIMEOUT_S = 15
HEARTBEAT_CHECK_INTERVAL_S = 2
MIN_HEARTBEAT_INTERVAL_S = 2


def session_members(sid: int) -> list[int]:
    """Return the pids of the live (not zombie) processes of a session.

    :param sid: the session id (the pid of the process that started it).
    """
    members = []
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getsid(proc.pid) == sid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                members.append(proc.pid)
        except (ProcessLookupError, PermissionError, psutil.Error):
            continue  # it ended while we looked
    return members


def kill_session(sid: int, timeout_s: float = 30) -> list[int]:
    """SIGKILL every process of a session until none is left; return the pids that were killed.

    :param sid: the session id.
    :param timeout_s: the most seconds to wait for them to be gone.
    """
    killed: set[int] = set()
    deadline = time.monotonic() + timeout_s
    while members := session_members(sid):
        if time.monotonic() > deadline:
            raise AssertionError(f"processes {members} of session {sid} survived SIGKILL for {timeout_s} s")
        for pid in members:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except ProcessLookupError:
                continue
        time.sleep(0.1)
    return sorted(killed)


def redis_answers(port: int) -> bool:
    """Say whether a redis server on 127.0.0.1:port answers PING.

    :param port: its port.
    """
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class CeleryStack(AirflowStack):
    """A running Airflow with the CeleryExecutor, its broker and its workers.

    :param broker_url: the redis URL the executor and the workers use.
    :param redis_port: the broker's port.
    :param workers: worker name -> its `airflow celery worker` process (also in processes).
    :param killed: components the test killed on purpose: name -> process (no longer in processes).
    """

    broker_url: str = ""
    redis_port: int = 0
    workers: dict[str, subprocess.Popen] = field(default_factory=dict)
    killed: dict[str, subprocess.Popen] = field(default_factory=dict)

    def log_tails(self, lines: int = 40) -> str:
        """Return the last lines of every component's log, killed ones included.

        :param lines: how many lines of each.
        """
        out = []
        for path in sorted(self.home.glob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {path.stem} ---\n" + "\n".join(text))
        return "\n".join(out)

    def worker_of_process(self, pid: int) -> str | None:
        """Return the name of the worker whose session a process belongs to, or None.

        :param pid: the process.
        """
        try:
            sid = os.getsid(pid)
        except ProcessLookupError:
            return None
        return next((name for name, proc in self.workers.items() if proc.pid == sid), None)

    def kill_worker(self, name: str) -> list[int]:
        """SIGKILL a worker and all of its session (pool, task supervisors, task processes); return the pids.

        :param name: the worker's name.
        """
        process = self.workers[name]
        self.killed[name] = self.processes.pop(name)
        os.killpg(process.pid, signal.SIGKILL)  # the worker's main process and its pool first, in one go
        killed = kill_session(process.pid)  # then the task processes, which have process groups of their own
        process.wait(timeout=30)
        return sorted({process.pid, *killed})

    def workers_answering(self) -> set[str]:
        """Return the names of the workers that answer a Celery control ping."""
        from celery import Celery

        app = Celery("ml-celery-e2e-probe", broker=self.broker_url)
        try:
            replies = app.control.ping(timeout=1.0)
        finally:
            app.close()
        return {node.split("@", 1)[1] for reply in replies for node in reply}

    def sessions(self) -> dict[str, int]:
        """Return component name -> the session id it started, killed components included."""
        return {name: proc.pid for name, proc in {**self.processes, **self.killed}.items()}

    def stop(self) -> None:
        """Stop the components (workers first, redis last; SIGTERM, SIGKILL after 30 s) and all left in their sessions."""
        order = [*self.workers, "scheduler", "dag-processor", "api-server", "redis"]
        running = [self.processes[name] for name in order if name in self.processes]
        for process in running:
            if process.poll() is None:
                process.terminate()
        for process in running:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for sid in self.sessions().values():
            kill_session(sid)

    def leftovers(self) -> dict[str, list[int]]:
        """Return component name -> pids still running in its session (empty when all is stopped)."""
        return {name: pids for name, sid in self.sessions().items() if (pids := session_members(sid))}


def start_celery_airflow(home: Path, dags_folder: Path, extra_env: dict[str, str], workers: list[str]) -> CeleryStack:
    """Start redis, migrate a SQLite database, and start the api-server, scheduler, dag-processor and workers.

    :param home: an empty folder for AIRFLOW_HOME (the components' logs go there too, as <name>.log).
    :param dags_folder: the DAGs to serve.
    :param extra_env: more environment for every component (ML_LIFECYCLE_HOME, the DAG's settings).
    :param workers: the workers' names (their Celery hostnames and the tasks' hostnames).
    """
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        raise AssertionError("redis-server is missing: run scripts/setup-celery.sh")
    home.mkdir(parents=True, exist_ok=True)
    port, redis_port = free_port(), free_port()
    broker = f"redis://127.0.0.1:{redis_port}"
    env = {
        **os.environ,
        **extra_env,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(home / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__API_AUTH__JWT_SECRET": "ml-lifecycle-e2e-secret-0123456789abcdef",
        "AIRFLOW__API__SECRET_KEY": "ml-lifecycle-e2e-secret",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT_S),
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": str(HEARTBEAT_CHECK_INTERVAL_S),
        "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": str(MIN_HEARTBEAT_INTERVAL_S),
        "AIRFLOW__CELERY__BROKER_URL": f"{broker}/0",
        "AIRFLOW__CELERY__RESULT_BACKEND": f"{broker}/1",
        # acks_late (the provider's default) leaves the dead worker's message unacked; redis would hand it out
        # again only after the visibility timeout, far beyond the test, so the retry is the only second run.
        "AIRFLOW__CELERY__TASK_ACKS_LATE": "True",
        "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "3600",
    }
    env.pop("AIRFLOW_CONFIG", None)
    for name in ("ML_LIFECYCLE_ARTIFACT_ROOT", "ML_LIFECYCLE_WORK_DIR"):
        env.pop(name, None)  # job state goes under extra_env's ML_LIFECYCLE_HOME, not the caller's
    airflow = str(Path(sys.executable).with_name("airflow"))
    stack = CeleryStack(home, env, port, broker_url=f"{broker}/0", redis_port=redis_port)
    try:
        _start(stack, "redis", [redis_server, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", ""], env)
        stack.wait_for("redis", lambda: redis_answers(redis_port), timeout_s=30, interval_s=0.2)
        with (home / "migrate.log").open("wb") as log:
            subprocess.run(
                [airflow, "db", "migrate"], env=env, stdout=log, stderr=subprocess.STDOUT, check=True, timeout=600
            )
        api = [airflow, "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
        _start(stack, "api-server", api, env)
        _start(stack, "scheduler", [airflow, "scheduler"], env)
        _start(stack, "dag-processor", [airflow, "dag-processor"], env)
        for name in workers:
            worker_env = {
                **env,
                "ML_CELERY_E2E_WORKER": name,
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": "worker_identity.hostname",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS_CELERY), env.get("PYTHONPATH")])),
            }
            command = [
                *(airflow, "celery", "worker", "--celery-hostname", name, "--concurrency", str(WORKER_CONCURRENCY)),
                *("--skip-serve-logs", "--pid", str(home / f"{name}.pid")),  # two workers share one machine
            ]
            stack.workers[name] = _start(stack, name, command, worker_env)
        stack.wait_for("the api-server", lambda: stack.api("GET", "/api/v2/monitor/health"), timeout_s=180)
        stack.wait_for("both workers", lambda: stack.workers_answering() >= set(workers), timeout_s=180)
    except BaseException:
        stack.stop()
        raise
    return stack


def _start(stack: CeleryStack, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen:
    """Start a component in a session of its own, its output in <home>/<name>.log.

    :param stack: the stack it joins.
    :param name: the component's name.
    :param command: its command line.
    :param env: its environment.
    """
    with (stack.home / f"{name}.log").open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    stack.processes[name] = process
    return process
