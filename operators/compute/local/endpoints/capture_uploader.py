"""A local endpoint's capture uploader: a detached agent per endpoint that empties the proxy's spool to S3.

The endpoint outlives the task that deployed it, so the uploader is detached (as the role credentials agent is). It
runs while the endpoint's proxy runs and makes a last pass once the proxy has stopped (nginx seals its last files as
it stops). A delete makes that last pass itself, before the endpoint's folder goes; the spool's lock keeps the two
passes from sending a file twice.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from ml_lifecycle.compute.base import LogSink
from ml_lifecycle.compute.local.detached import collect_later, launch_detached
from ml_lifecycle.compute.local.endpoints.capture_config import STATE_DIR, CaptureSetup
from ml_lifecycle.compute.local.endpoints.capture_upload import UPLOAD_INTERVAL_S, UploadTarget, upload_pass
from ml_lifecycle.compute.local.endpoints.proxy import ROLE, ROLE_PROXY
from ml_lifecycle.compute.local.endpoints.record import proxy_dir
from ml_lifecycle.core import labels
from ml_lifecycle.stores import detached_store_factory, store_factory

TARGET_NAME = "upload-target.json"
PID_NAME = "uploader.pid"
LOG_NAME = "uploader.log"


def ensure_uploader(setup: CaptureSetup | None, endpoint_name: str, aws_conn_id: str | None, sink: LogSink) -> None:
    """Start the endpoint's uploader unless it runs (nothing when its capture is written to a folder directly).

    :param setup: the endpoint's capture, or None.
    :param endpoint_name: the endpoint's name.
    :param aws_conn_id: the Airflow AWS connection that writes to the destination.
    :param sink: the task log.
    """
    if setup is None or setup.upload_uri is None:
        return
    setup.state_dir.mkdir(parents=True, exist_ok=True)
    target_text = json.dumps({"spool": str(setup.records_dir), "destination": setup.upload_uri, "conn": aws_conn_id})
    (setup.state_dir / TARGET_NAME).write_text(target_text)
    pid_file = setup.state_dir / PID_NAME
    if _alive(pid_file):
        return
    store_for = detached_store_factory(aws_conn_id, [setup.upload_uri])  # the connection is read before the fork
    wanted = {labels.ENDPOINT: endpoint_name, ROLE: ROLE_PROXY}

    def run(out: LogSink) -> int:
        from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine

        engine = DockerEngine()
        out(f"uploading endpoint {endpoint_name}'s capture files to {setup.upload_uri}")
        while engine.containers(wanted, running_only=True):
            target = _saved_target(setup.state_dir)  # read at each pass: an update may have moved the destination
            if target is None:
                break
            upload_pass(target, store_for)
            time.sleep(UPLOAD_INTERVAL_S)
        target = _saved_target(setup.state_dir)
        if target is not None:  # else the endpoint was deleted, and its delete made the last pass
            upload_pass(target, store_for, final=True)
        out("the proxy has stopped: last pass done")
        return 0

    pid = launch_detached(run, setup.state_dir / LOG_NAME)
    pid_file.write_text(str(pid))
    collect_later(pid)
    sink(f"Endpoint {endpoint_name}: capture files are uploaded to {setup.upload_uri} (uploader pid {pid})")


def last_upload(home: Path, endpoint_name: str) -> None:
    """Make the last upload pass of a deleted endpoint, whose proxy has stopped (nothing without an uploader).

    :param home: ML_LIFECYCLE_HOME.
    :param endpoint_name: the endpoint's name.
    """
    state_dir = proxy_dir(home, endpoint_name) / STATE_DIR
    target = _saved_target(state_dir)
    if target is not None:
        connection = json.loads((state_dir / TARGET_NAME).read_text()).get("conn")
        upload_pass(target, store_factory(connection), final=True)


def _saved_target(state_dir: Path) -> UploadTarget | None:
    """Return the upload target the last deploy saved (its spool and destination), or None when there is none.

    :param state_dir: the endpoint's counters folder, which holds TARGET_NAME.
    """
    try:
        saved = json.loads((state_dir / TARGET_NAME).read_text())
    except (OSError, ValueError):
        return None
    return UploadTarget.of(Path(saved["spool"]), saved["destination"], state_dir)


def _alive(pid_file: Path) -> bool:
    """Say whether the uploader a pid file names still runs.

    :param pid_file: the file.
    """
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return True
