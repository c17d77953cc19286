"""Start a job's agent in its own process, detached from the Airflow task, so the job outlives the task."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

HEARTBEAT_S = 5.0  # how often a detached agent touches its heartbeat file


def launch_detached(run: Callable[[Callable[[str], None]], int], log_path: Path, heartbeat: Path | None = None) -> int:
    """Fork a process in a new session that runs ``run`` and exits; return its pid.

    The child leaves the task's session (a kill of the task's process group does not reach it), closes every
    inherited descriptor (so the Airflow supervisor sees the task end), and writes its log to log_path. Forking
    costs milliseconds where starting a new interpreter costs a quarter of a second.

    :param run: the agent's work; it receives a sink for log lines and returns the exit code.
    :param log_path: the file the agent appends its log lines to.
    :param heartbeat: a file the agent touches every HEARTBEAT_S while it runs (how a process that cannot see its
        pid, in another PID namespace, tells that it lives), or None.
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
        # The parent's handlers (an API server's, a task runner's) are not the agent's: it installs its own.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_DFL)
        _detach_descriptors(log_path)
        _reset_logging(log_path)
        if heartbeat is not None:
            _beat(heartbeat)
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


def _beat(path: Path) -> None:
    """Touch path now and then every HEARTBEAT_S, from a daemon thread, for as long as this process lives.

    :param path: the heartbeat file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()

    def loop() -> None:
        while True:
            with contextlib.suppress(OSError):
                path.touch()
            time.sleep(HEARTBEAT_S)

    threading.Thread(target=loop, name="heartbeat", daemon=True).start()


def collect_later(pid: int) -> None:
    """Collect a detached agent when it exits, so no zombie is left.

    :param pid: its pid.
    """

    def collect() -> None:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)

    threading.Thread(target=collect, name=f"collect-{pid}", daemon=True).start()
