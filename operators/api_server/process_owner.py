"""Which API server process is doing something in the background (launching a job, deploying an endpoint), so that
any process can tell whether it still is: the same host and a live pid, or another host within a deadline."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping
from typing import Any


def this_process(deadline_s: float) -> dict[str, Any]:
    """Return who does the work: this host and process, and when another host stops waiting for it.

    :param deadline_s: how long the work may take, in seconds.
    """
    return {"host": socket.gethostname(), "pid": os.getpid(), "deadline_epoch_s": time.time() + deadline_s}


def still_working(owner: Mapping[str, Any]) -> bool:
    """Say whether the process that took the work on may still be doing it: on this host, while its pid lives and
    its deadline has not passed; on another host, until its deadline.

    :param owner: what this_process returned when the work started.
    """
    if time.time() > float(owner.get("deadline_epoch_s", 0)):
        return False
    if owner.get("host") != socket.gethostname():
        return True
    try:
        pid = int(owner.get("pid", 0))
    except (TypeError, ValueError):
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True
