"""Follow a detached job from the Airflow task: copy its log into the task log until its agent exits."""

from __future__ import annotations

import contextlib
import os
import select
import time
from collections.abc import Callable
from pathlib import Path

from ml_lifecycle.agent.launcher import is_alive

FOLLOW_INTERVAL_S = 0.05


def tail(log_path: Path, offset: int, sink: Callable[[str], None]) -> int:
    """Send the complete lines written to log_path since offset to sink; return the new offset.

    :param log_path: the job's log file.
    :param offset: the byte offset already sent.
    :param sink: receives each line.
    """
    try:
        with open(log_path, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except FileNotFoundError:
        return offset
    end = data.rfind(b"\n") + 1
    for line in data[:end].decode("utf-8", "replace").splitlines():
        sink(line)
    return offset + end


def follow(pid: int, log_path: Path, sink: Callable[[str], None], *, own_child: bool, offset: int = 0) -> int:
    """Stream the agent's log until the agent process ends; return the final log offset.

    :param pid: the agent's process id.
    :param log_path: the job's log file.
    :param sink: receives each log line (the task log).
    :param own_child: whether this process forked the agent (then it reaps it, so no zombie is left).
    :param offset: where in the log to start.
    """
    exited = _exit_notice(pid)
    try:
        while True:
            offset = tail(log_path, offset, sink)
            if own_child:
                done, _ = os.waitpid(pid, os.WNOHANG)
                if done:
                    break
            elif not is_alive(pid):
                break
            _pause(exited)
    finally:
        if exited is not None:
            os.close(exited)
    return tail(log_path, offset, sink)


def _exit_notice(pid: int) -> int | None:
    """Return a descriptor that becomes readable when the process ends (a pidfd), or None where there is none.

    :param pid: the process id.
    """
    with contextlib.suppress(AttributeError, OSError):
        return os.pidfd_open(pid)
    return None


def _pause(exited: int | None) -> None:
    """Wait FOLLOW_INTERVAL_S, or less when the process behind exited ends first.

    :param exited: the process's pidfd, or None to just sleep.
    """
    if exited is None:
        time.sleep(FOLLOW_INTERVAL_S)
    else:
        poller = select.poll()
        poller.register(exited, select.POLLIN)
        poller.poll(FOLLOW_INTERVAL_S * 1000)
