"""Data capture in a local endpoint's proxy: the folders it writes to, the settings nginx gets, what it counted.

Why in the proxy: the router nginx already holds each request's body (it buffers it to retry another container)
and streams each response, so a Lua body filter and log handler (docker/endpoint-proxy/mlc_capture.lua) record both
after the response has gone out, in the nginx worker, with no extra hop; a timer writes the records to disk.
A separate capture process in the path (nginx -> capture -> model) would add a copy, a connection and a Python
event loop per request on the same CPUs as the model. The proxy image is the serving-side piece an EC2 instance
can run in front of its container too.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml_lifecycle.compute.local.endpoints.proxy_config import VARIANT_NAME
from ml_lifecycle.compute.local.endpoints.record import proxy_dir
from ml_lifecycle.core.data_capture import PARAMETER, DataCapture
from ml_lifecycle.core.errors import SpecError

# Inside the proxy container: the endpoint's capture folder (<destination>/<endpoint>) and the counters' folder.
CAPTURE_ROOT = "/var/lib/mlc-capture/records"
STATE_ROOT = "/var/lib/mlc-capture/state"
STATE_DIR = "capture-state"
STATS_NAME = "stats.json"
LABEL = "ml-lifecycle.capture-folder"
FLUSH_INTERVAL_S = 0.2
# Records a worker may hold while its destination does not take them; past this they are counted lost.
MAX_PENDING_BYTES = 64 * 1024 * 1024
# Folders nginx's user (www-data, no capability) must write into; the engine's host user owns them.
WRITABLE_MODE = 0o777


@dataclass(frozen=True)
class CaptureSetup:
    """An endpoint's capture on the engine's host: its settings and the folders mounted into the proxy.

    :param capture: what to capture.
    :param records_dir: ``<destination>/<endpoint>``, mounted read-write at CAPTURE_ROOT.
    :param state_dir: the endpoint's folder for the proxy's counters, mounted at STATE_ROOT.
    """

    capture: DataCapture
    records_dir: Path
    state_dir: Path

    @property
    def label(self) -> str:
        """The proxy's label value: a proxy whose mount differs is replaced."""
        return str(self.records_dir)


def capture_setup(capture: DataCapture | None, endpoint_name: str, home: Path) -> CaptureSetup | None:
    """Return where an endpoint's capture goes on this host, refusing what local endpoints cannot write yet.

    :param capture: the endpoint's data capture, or None.
    :param endpoint_name: the endpoint's name.
    :param home: ML_LIFECYCLE_HOME.
    """
    if capture is None:
        return None
    folder = capture.folder_uri(endpoint_name, VARIANT_NAME)
    if folder.scheme != "file":
        raise SpecError(
            f"{PARAMETER}.DestinationS3Uri",
            f"{capture.destination_uri} is on S3: local endpoints write capture files to a folder only, for now",
            "Write a file:///abs/path destination (and copy it to S3 yourself), or deploy with compute='ec2' later",
        )
    return CaptureSetup(capture, Path(folder.path).parent, proxy_dir(home, endpoint_name) / STATE_DIR)


def prepare_folders(setup: CaptureSetup) -> None:
    """Create the capture folders and let the proxy's user write into them.

    :param setup: the endpoint's capture.
    """
    for folder in (setup.records_dir, setup.state_dir):
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, WRITABLE_MODE)


def lua_settings(setup: CaptureSetup) -> str:
    """Return the Lua table literal init_worker_by_lua hands mlc_capture.

    :param setup: the endpoint's capture.
    """
    capture = setup.capture
    values: dict[str, Any] = {
        "root": f"{CAPTURE_ROOT}/{VARIANT_NAME}",
        "stats_file": f"{STATE_ROOT}/{STATS_NAME}",
        "percent": capture.sampling_percentage,
        "input": capture.capture_input,
        "output": capture.capture_output,
        "csv": set(capture.csv_content_types),
        "json": set(capture.json_content_types),
        "flush_interval_s": FLUSH_INTERVAL_S,
        "max_pending_bytes": MAX_PENDING_BYTES,
    }
    return "{" + ", ".join(f"{key} = {_lua(value)}" for key, value in values.items()) + "}"


def _lua(value: Any) -> str:
    """Render one setting as Lua: a boolean, a number, a string, or a set of strings (``{["a"] = true}``).

    Strings here are folder names and content types checked against SageMaker's patterns: plain ASCII.

    :param value: the setting.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, set):
        return "{" + ", ".join(f"[{_lua(v)}] = true" for v in sorted(value)) + "}"
    text = str(value)
    if not text.isascii() or not text.isprintable():
        raise SpecError(PARAMETER, f"{text!r} has characters the proxy's configuration cannot hold", "Use ASCII")
    return json.dumps(text)


def capture_stats(home: Path, endpoint_name: str) -> dict[str, str]:
    """Return what the proxy counted (records written, records lost and why), for an endpoint's description.

    :param home: ML_LIFECYCLE_HOME.
    :param endpoint_name: the endpoint's name.
    """
    path = proxy_dir(home, endpoint_name) / STATE_DIR / STATS_NAME
    try:
        stats = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {
        "capture_records": str(stats.get("captured", 0)),
        "capture_lost": str(stats.get("lost", 0)),
        "capture_last_error": str(stats.get("last_error", "")),
    }
