"""Which process runs a local job, and whether it still lives: its pid, host, PID namespace, boot and start time.

A record names its agent this way; a pid alone is not enough: after a reboot, or in another PID namespace (a
container on the host's network), the same number may be another process.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

from ml_lifecycle.core.status import JobRecord

# The record's agent keys beyond pid and host: processes that share a host name (containers on the host's network,
# the host itself) may not share PIDs, and a PID is only judged from the namespace it was read in; a machine that
# restarted reuses PIDs (and its first PID namespace's number), hence the boot id and the process's start time.
PID_NAMESPACE = "pid_namespace"
BOOT_ID = "boot_id"
STARTED = "start_ticks"
# A heartbeat older than this means its agent is gone (it touches the file every HEARTBEAT_S).
HEARTBEAT_STALE_S = 20.0


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
    """Return this process as a job record's agent names it: pid, host, PID namespace, boot and start (when known)."""
    identity: dict[str, str | int] = {"pid": os.getpid(), "host": socket.gethostname()}
    for key, value in ((PID_NAMESPACE, pid_namespace()), (BOOT_ID, boot_id()), (STARTED, start_ticks(os.getpid()))):
        if value:
            identity[key] = value
    return identity


def boot_id() -> str:
    """Return this machine's boot id (it changes at every boot), or "" where /proc does not tell."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def start_ticks(pid: int) -> str:
    """Return when a process started, in clock ticks since boot (field 22 of /proc/<pid>/stat), or "".

    :param pid: the process.
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(") ", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


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
    if agent.get(BOOT_ID) and agent[BOOT_ID] != boot_id():
        return False  # this machine restarted since: every process of that boot is gone
    if agent.get(PID_NAMESPACE) and agent[PID_NAMESPACE] != pid_namespace():
        return None  # same host name, other PIDs: e.g. a container on the host's network
    pid = int(agent["pid"])
    if not is_alive(pid):
        return False
    return not agent.get(STARTED) or agent[STARTED] == start_ticks(pid)  # else the pid was reused


def heartbeat_fresh(path: Path) -> bool | None:
    """Say whether a heartbeat file was touched lately, or None when there is none.

    :param path: the heartbeat file.
    """
    try:
        return time.time() - path.stat().st_mtime < HEARTBEAT_STALE_S
    except OSError:
        return None
