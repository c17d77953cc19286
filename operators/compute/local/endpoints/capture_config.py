"""Data capture in a local endpoint's proxy: the folders it writes to, the settings nginx gets, what it counted.

Why in the proxy: the router nginx already holds each request's body (it buffers it to retry another container)
and streams each response, so a Lua body filter and log handler (docker/endpoint-proxy/mlc_capture.lua) record both
after the response has gone out, in the nginx worker, with no extra hop; a timer writes the records to disk.
A separate capture process in the path (nginx -> capture -> model) would add a copy, a connection and a Python
event loop per request on the same CPUs as the model. The proxy image is the serving-side piece an EC2 instance
runs in front of its container too.

A destination on S3 (or any store the proxy cannot write to) gets a spool folder instead: the Lua seals each file
after SEAL_AFTER_S (or when its worker exits), and capture_upload moves the sealed files to the destination.
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
from ml_lifecycle.core.uris import parse_uri

# Inside the proxy container: the endpoint's capture folder (<destination>/<endpoint>) and the counters' folder.
CAPTURE_ROOT = "/var/lib/mlc-capture/records"
STATE_ROOT = "/var/lib/mlc-capture/state"
STATE_DIR = "capture-state"
STATS_NAME = "stats.json"
UPLOAD_STATS_NAME = "upload.json"
SPOOL_DIR = "capture-spool"
# How old a spooled file gets before it is sealed for upload: one object per nginx worker and interval at most.
SEAL_AFTER_S = 30.0
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
    :param records_dir: where the proxy writes, mounted read-write at CAPTURE_ROOT: ``<destination>/<endpoint>``
        for a folder destination, else the spool the uploader empties.
    :param state_dir: the endpoint's folder for the proxy's counters, mounted at STATE_ROOT.
    :param upload_uri: ``<destination>/<endpoint>`` when the files are uploaded from the spool, else None.
    """

    capture: DataCapture
    records_dir: Path
    state_dir: Path
    upload_uri: str | None = None

    @property
    def label(self) -> str:
        """The proxy's label value: a proxy whose mount or sealing differs is replaced."""
        return f"{self.records_dir} sealed" if self.upload_uri else str(self.records_dir)


def capture_setup(capture: DataCapture | None, endpoint_name: str, home: Path) -> CaptureSetup | None:
    """Return where a local endpoint's capture goes: the destination folder, or a spool uploaded to S3.

    :param capture: the endpoint's data capture, or None.
    :param endpoint_name: the endpoint's name.
    :param home: ML_LIFECYCLE_HOME.
    """
    return capture_setup_in(capture, endpoint_name, proxy_dir(home, endpoint_name))


def capture_setup_in(capture: DataCapture | None, endpoint_name: str, folder: Path) -> CaptureSetup | None:
    """Return where an endpoint's capture goes, its spool and counters under a folder of the proxy's.

    :param capture: the endpoint's data capture, or None.
    :param endpoint_name: the endpoint's name.
    :param folder: the proxy's own folder on this host.
    """
    if capture is None:
        return None
    destination = capture.folder_uri(endpoint_name, VARIANT_NAME)
    if destination.scheme == "file":
        return CaptureSetup(capture, Path(destination.path).parent, folder / STATE_DIR)
    endpoint_uri = parse_uri(capture.destination_uri, f"{PARAMETER}.DestinationS3Uri").join(endpoint_name)
    return CaptureSetup(capture, folder / SPOOL_DIR, folder / STATE_DIR, upload_uri=str(endpoint_uri))


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
    if setup.upload_uri:
        values["seal_after_s"] = SEAL_AFTER_S
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
    """Return what an endpoint's capture counted, for its description (see capture_stats_in).

    :param home: ML_LIFECYCLE_HOME.
    :param endpoint_name: the endpoint's name.
    """
    return capture_stats_in(proxy_dir(home, endpoint_name) / STATE_DIR)


def capture_stats_in(state_dir: Path) -> dict[str, str]:
    """Return what the proxy and the uploader counted: records at the destination, records lost, the last error.

    With an uploader, a record is counted once it is at the destination (the proxy's "captured" ones are only in the
    spool), and the losses of both add up.

    :param state_dir: the counters' folder.
    """
    proxy = _read_json(state_dir / STATS_NAME)
    upload = _read_json(state_dir / UPLOAD_STATS_NAME)
    if not proxy and not upload:
        return {}
    written = upload.get("uploaded", 0) if upload else proxy.get("captured", 0)
    return {
        "capture_records": str(written),
        "capture_lost": str(int(proxy.get("lost", 0)) + int(upload.get("lost", 0))),
        "capture_last_error": str(upload.get("last_error") or proxy.get("last_error", "")),
    }


def _read_json(path: Path) -> dict[str, Any]:
    """Return a counters file's content, or {} when it is missing or half-written.

    :param path: the file.
    """
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return {}
