"""Reading a file a container wrote into a folder mounted from this host, without following links it planted: a job
image could make /opt/ml/output/failure a symlink to a host file and have the API return that file's text."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def read_container_file(path: Path | str, max_bytes: int) -> bytes | None:
    """Return the first bytes of a regular file a container wrote, or None when it is absent, a link or not a file.

    :param path: the file on this host (in a folder a container had mounted writable).
    :param max_bytes: the most bytes to read.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:  # absent, or a symlink (ELOOP)
        return None
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):  # a folder, or a FIFO or device that would block or leak
            return None
        return os.read(descriptor, max_bytes)
    finally:
        os.close(descriptor)
