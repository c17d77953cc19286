"""Start a job's agent in its own process, detached from the Airflow task, so the job outlives the task."""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path

from ml_lifecycle.core.status import JobRecord

log = logging.getLogger(__name__)

# The record's agent key naming the agent's PID namespace: processes that share a host name (containers on the host's
# network, the host itself) may not share PIDs, and a PID is only judged from the namespace it was read in.
PID_NAMESPACE = "pid_namespace"


def launch_detached(run: Callable[[Callable[[str], None]], int], log_path: Path) -> int:
    """Fork a process in a new session that runs ``run`` and exits; return its pid.

    The child leaves the task's session (a kill of the task's process group does not reach it), closes every
    inherited descriptor (so the Airflow supervisor sees the task end), and writes its log to log_path. Forking
    costs milliseconds where starting a new interpreter costs a quarter of a second.

    :param run: the agent's work; it receives a sink for log lines and returns the exit code.
    :param log_path: the file the agent appends its log lines to.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        os.setsid()
        _detach_descriptors(log_path)
        _reset_logging(log_path)
        with open(log_path, "a", buffering=1, encoding="utf-8") as out:
            code = run(lambda line: out.write(line + "\n"))
    except BaseException as err:
        try:
            with open(log_path, "a", encoding="utf-8") as out:
                out.write(f"agent: {type(err).__name__}: {err}\n")
        except OSError:
            pass
    finally:
        os._exit(code)


def _detach_descriptors(log_path: Path) -> None:
    """Point stdin at /dev/null and stdout/stderr at the log, and close everything else inherited.

    :param log_path: the agent's log file.
    """
    devnull = os.open(os.devnull, os.O_RDONLY)
    out = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(devnull, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.closerange(3, _max_fd())


def _max_fd() -> int:
    """Return one past the highest descriptor number this process may have open."""
    try:
        return max(int(name) for name in os.listdir("/proc/self/fd")) + 1
    except (OSError, ValueError):
        return os.sysconf("SC_OPEN_MAX")


def _reset_logging(log_path: Path) -> None:
    """Send this process's logging to the agent log instead of the task's handlers.

    :param log_path: the agent's log file.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.FileHandler(log_path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("agent: %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def is_alive(pid: int) -> bool:
    """Say whether a process with this pid exists on this host (and is not a zombie).

    :param pid: the process id.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return True


def process_identity() -> dict[str, str | int]:
    """Return this process as a job record's agent names it: pid, host name and PID namespace (when readable)."""
    identity: dict[str, str | int] = {"pid": os.getpid(), "host": socket.gethostname()}
    namespace = pid_namespace()
    if namespace:
        identity[PID_NAMESPACE] = namespace
    return identity


def pid_namespace() -> str:
    """Return this process's PID namespace (``pid:[4026531836]``), or "" where /proc does not tell (not Linux)."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def agent_alive(record: JobRecord | None, is_alive: Callable[[int], bool]) -> bool | None:
    """Say whether a job's agent lives, or None when this host cannot know (no record, or another host's agent).

    :param record: the job's record, or None.
    :param is_alive: pid -> whether that process lives on this host.
    """
    agent = (record.agent if record else None) or {}
    if not agent.get("pid") or agent.get("host") != socket.gethostname():
        return None
    if agent.get(PID_NAMESPACE) and agent[PID_NAMESPACE] != pid_namespace():
        return None  # same host name, other PIDs: e.g. a container on the host's network
    return is_alive(int(agent["pid"]))
