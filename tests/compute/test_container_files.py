"""A file a container wrote is read only when it is a regular file: a symlink it planted towards a host file, a FIFO
or a device is not followed (the API would return the host file's text as a FailureReason or ExitMessage)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ml_lifecycle.compute.local.container_files import read_container_file


def _regular(folder: Path) -> Path:
    (folder / "message").write_bytes(b"done: 3 rows\n")
    return folder / "message"


def _link_to_host_secret(folder: Path) -> Path:
    (folder / "airflow.cfg").write_text("[database]\nsql_alchemy_conn = postgresql://secret\n")
    (folder / "message").symlink_to(folder / "airflow.cfg")
    return folder / "message"


def _fifo(folder: Path) -> Path:
    os.mkfifo(folder / "message")
    return folder / "message"


def _folder(folder: Path) -> Path:
    (folder / "message").mkdir()
    return folder / "message"


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (_regular, b"done: 3 rows\n"),
        (_link_to_host_secret, None),
        (_fifo, None),
        (_folder, None),
        (lambda folder: folder / "absent", None),
    ],
    ids=["regular", "symlink", "fifo", "folder", "absent"],
)
def test_only_a_regular_file_is_read(tmp_path: Path, make, expected) -> None:
    assert read_container_file(make(tmp_path), 1024) == expected


def test_no_more_than_max_bytes_are_read(tmp_path: Path) -> None:
    (tmp_path / "failure").write_bytes(b"x" * 5000)
    assert read_container_file(tmp_path / "failure", 1024) == b"x" * 1024
