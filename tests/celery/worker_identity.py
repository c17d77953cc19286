"""The [core] hostname_callable of the test's Celery workers: each reports its own name as the task's hostname."""

from __future__ import annotations

import os
import socket

WORKER_NAME_VAR = "ML_CELERY_E2E_WORKER"


def hostname() -> str:
    """Return the worker's name from ML_CELERY_E2E_WORKER (both workers share this machine's host name)."""
    return os.environ.get(WORKER_NAME_VAR) or socket.getfqdn()
