"""Follow a detached job from the Airflow task: copy its log into the task log until its agent exits."""

from __future__ import annotations

import contextlib
import os
import select
import time
from collections.abc import Callable
from pathlib import Path

from ml_lifecycle.compute.local.agent_identity import is_alive

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


def follow(
    pid: int,
    log_path: Path,
    sink: Callable[[str], None],
    *,
    own_child: bool,
    offset: int = 0,
    deadline_s: float = float("inf"),
) -> bool:
    """Stream the agent's log until the agent process ends or the deadline passes; say whether it ended.

    :param pid: the agent's process id.
    :param log_path: the job's log file.
    :param sink: receives each log line (the task log).
    :param own_child: whether this process forked the agent (then it reaps it, so no zombie is left).
    :param offset: where in the log to start.
    :param deadline_s: the time.monotonic() after which it stops following.
    """
    exited = _exit_notice(pid)
    ended = False
    try:
        while not ended and time.monotonic() < deadline_s:
            offset = tail(log_path, offset, sink)
            ended = _ended(pid, own_child)
            if not ended:
                _pause(exited)
    finally:
        if exited is not None:
            os.close(exited)
    tail(log_path, offset, sink)
    return ended


def _ended(pid: int, own_child: bool) -> bool:
    """Say whether the agent process ended (reaping it when this process is its parent).

    :param pid: the agent's process id.
    :param own_child: whether this process forked it.
    """
    if own_child:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # reaped already (or not ours after all)
            return not is_alive(pid)
        return bool(done)
    return not is_alive(pid)


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
