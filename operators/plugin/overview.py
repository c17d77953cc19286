"""What the ML lifecycle page shows, read from the stores: model versions, training curves, endpoints, running jobs."""

from __future__ import annotations

import json
import logging
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ml_lifecycle.core.job_kinds import RECORDS_FOLDER
from ml_lifecycle.core.status import JobStatus
from ml_lifecycle.core.uris import ArtifactUri, parse_uri
from ml_lifecycle.plugin.endpoint_costs import cost_columns, deleted_endpoints
from ml_lifecycle.plugin.prices import estimate_usd
from ml_lifecycle.plugin.tuning_view import tuning_jobs
from ml_lifecycle.stores.base import ArtifactStore

log = logging.getLogger(__name__)

StoreFor = Callable[[ArtifactUri], ArtifactStore]
MAX_RECORDS = 500
PING_TIMEOUT_S = 0.5


@dataclass
class Overview:
    """Everything on the page.

    :param artifact_root: where the data came from.
    :param models: model name -> its version manifests, oldest first (each with ``training_curves`` added).
    :param endpoints: endpoint records (with ``answers_ping`` added, and what endpoint_costs.cost_columns says).
    :param other_endpoints: the endpoints on other backends (ML_LIFECYCLE_PAGE_COMPUTE), as their fronts count them.
    :param deleted_endpoints: the reaper's notes of endpoints it deleted for idleness, newest first.
    :param running: InProgress job records (with ``age_s``, ``instance_type`` and ``estimated_usd`` added).
    :param tuning: tuning states under ``training/``, newest first.
    :param problems: what could not be read, one line each.
    """

    artifact_root: str
    models: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    endpoints: list[dict[str, Any]] = field(default_factory=list)
    other_endpoints: list[dict[str, Any]] = field(default_factory=list)
    deleted_endpoints: list[dict[str, Any]] = field(default_factory=list)
    running: list[dict[str, Any]] = field(default_factory=list)
    tuning: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def collect(
    artifact_root: str,
    home: Path,
    work_root: Path,
    store_for: StoreFor,
    *,
    ping: bool = True,
    computes: Sequence[str] = (),
) -> Overview:
    """Read everything the page shows; a source that fails is reported in ``problems`` and the rest still shows.

    :param artifact_root: the artifact root (models under ``registry/``, training records under ``training/``).
    :param home: ML_LIFECYCLE_HOME (local endpoint records under ``endpoints/``).
    :param work_root: where local jobs lay out /opt/ml (their resourceconfig.json names the instance type).
    :param store_for: returns the store for a URI.
    :param ping: ask each endpoint's ``/ping`` whether it answers.
    :param computes: other backends whose endpoints are listed too (e.g. ``ec2``).
    """
    overview = Overview(artifact_root=artifact_root)
    root = parse_uri(artifact_root, "ML_LIFECYCLE_ARTIFACT_ROOT")
    for what, step in (
        ("model versions", lambda: _models(root.join("registry"), store_for, overview)),
        ("endpoints", lambda: _endpoints(home / "endpoints", overview, ping)),
        ("endpoints' costs and requests", lambda: _costs(overview)),
        ("endpoints the reaper deleted", lambda: overview.deleted_endpoints.extend(deleted_endpoints(root, store_for))),
        ("running jobs", lambda: _running(root, store_for, work_root, overview)),
        ("tuning jobs", lambda: overview.tuning.extend(tuning_jobs(root, store_for))),
        *((f"endpoints on {c}", lambda c=c: _other_endpoints(c, overview)) for c in computes),
    ):
        try:
            step()
        except Exception as err:  # one broken source must not blank the page
            log.exception("Could not read the %s", what)
            overview.problems.append(f"Could not read the {what}: {type(err).__name__}: {err}")
    return overview


def _models(registry: ArtifactUri, store_for: StoreFor, overview: Overview) -> None:
    """Read every version manifest under the registry, and each version's training curves.

    :param registry: the model registry root.
    :param store_for: returns the store for a URI.
    :param overview: receives the models.
    """
    store = store_for(registry)
    found: dict[str, list[int]] = {}
    for obj in store.list_objects(registry):
        parts = obj.relative_key.split("/")
        if len(parts) == 3 and parts[2] == "manifest.json" and parts[1].isdigit():
            found.setdefault(parts[0], []).append(int(parts[1]))
    for name in sorted(found):
        manifests = []
        for version in sorted(found[name]):
            manifest = json.loads(store.read_bytes(registry.join(name, str(version), "manifest.json")))
            manifest["training_curves"] = _curves(manifest, store_for, overview)
            manifests.append(manifest)
        overview.models[name] = manifests


def _curves(manifest: dict[str, Any], store_for: StoreFor, overview: Overview) -> dict[str, list[list[float]]]:
    """Return the metric series the training job's record holds (metric_definitions matches over time).

    :param manifest: a version manifest (its model's source is ``<output_path>/<job>/output/model.tar.gz``).
    :param store_for: returns the store for a URI.
    :param overview: receives a problem when the record cannot be read.
    """
    source = str(manifest.get("model", {}).get("source_uri", ""))
    if "/output/" not in source:
        return {}
    record_uri = parse_uri(source.rsplit("/output/", 1)[0]).join("status.json")
    try:
        record = json.loads(store_for(record_uri).read_bytes(record_uri))
    except FileNotFoundError:
        return {}
    except Exception as err:
        overview.problems.append(f"Could not read the training record {record_uri}: {err}")
        return {}
    return dict(record.get("metric_series") or {})


def _endpoints(folder: Path, overview: Overview, ping: bool) -> None:
    """Read the local endpoint records, and whether each endpoint answers ``/ping``.

    :param folder: ``<ML_LIFECYCLE_HOME>/endpoints``.
    :param overview: receives the endpoints.
    :param ping: ask each endpoint's ``/ping``.
    """
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("*.json")):
        if path.name.startswith("."):
            continue
        record = json.loads(path.read_text())
        record["answers_ping"] = _answers_ping(str(record.get("url", ""))) if ping else None
        if ping:
            record.update(_as_it_is(str(record.get("endpoint_name", path.stem)), overview))
        overview.endpoints.append(record)


def _costs(overview: Overview) -> None:
    """Add each local endpoint's running cost, last request and idle limit, as its containers and proxy say.

    :param overview: holds the endpoints.
    """
    from ml_lifecycle.compute import DEFAULT_BACKEND, backend_for

    if not overview.endpoints:
        return
    activity = backend_for(DEFAULT_BACKEND, None).endpoints().activity({})
    found = cost_columns(activity, time.time())
    for record in overview.endpoints:
        record.update(found.get(str(record.get("endpoint_name", "")), {}))


def _other_endpoints(compute: str, overview: Overview) -> None:
    """List a backend's endpoints with their running cost, last request and idle limit, as their fronts count them.

    :param compute: the backend (e.g. ``ec2``, asked with the ``aws_default`` connection).
    :param overview: receives the endpoints.
    """
    from ml_lifecycle.compute import backend_for

    found = cost_columns(backend_for(compute, "aws_default").endpoints().activity({}), time.time())
    overview.other_endpoints.extend({"endpoint_name": name, "compute": compute, **row} for name, row in found.items())


def _as_it_is(endpoint_name: str, overview: Overview) -> dict[str, Any]:
    """Return the endpoint's status as the engine says it is now (its containers and proxy asked), or nothing.

    :param endpoint_name: the endpoint's name.
    :param overview: receives a problem when the engine cannot be asked.
    """
    from ml_lifecycle.compute import DEFAULT_BACKEND, backend_for

    try:
        view = backend_for(DEFAULT_BACKEND, None).endpoints().describe(endpoint_name)
    except Exception as err:  # e.g. the API server reaches no Docker engine: the record is all there is
        overview.problems.append(f"Could not ask the Docker engine about endpoint {endpoint_name}: {err}")
        return {}
    if view is None:
        return {}
    found: dict[str, Any] = {"status": view.status, "failure_reason": view.failure_reason}
    if view.serving_problem:
        found["serving_problem"] = view.serving_problem
    found.update({key: value for key, value in view.details.items() if key.startswith("capture_")})
    return found


def _answers_ping(url: str) -> bool:
    """Say whether ``<url>/ping`` answers 200 within PING_TIMEOUT_S.

    :param url: the endpoint's base URL.
    """
    if not url.startswith(("http://", "https://")):
        return False
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/ping", timeout=PING_TIMEOUT_S) as response:
            return response.status == 200
    except OSError:
        return False


def _running(root: ArtifactUri, store_for: StoreFor, work_root: Path, overview: Overview) -> None:
    """Find InProgress job records: training records under ``training/``, transform records under ``predictions/``,
    processing records under ``processing/`` (ProcessOnEC2Operator's default records_uri).

    :param root: the artifact root.
    :param store_for: returns the store for a URI.
    :param work_root: the local jobs' working folders.
    :param overview: receives the running jobs.
    """
    candidates = []
    for prefix in ("training", "predictions", "processing"):
        base = root.join(prefix)
        store = store_for(base)
        for obj in store.list_objects(base):
            parts = obj.relative_key.split("/")
            is_training = prefix in ("training", "processing") and len(parts) == 2
            is_transform = prefix == "predictions" and len(parts) >= 3 and parts[-3] == RECORDS_FOLDER
            if parts[-1] == "status.json" and (is_training or is_transform):
                candidates.append((store, base.join(obj.relative_key)))
    now = time.time()
    for store, uri in candidates[:MAX_RECORDS]:
        record = json.loads(store.read_bytes(uri))
        if record.get("status") not in (JobStatus.IN_PROGRESS, JobStatus.STOPPING):
            continue
        age_s = max(now - _epoch(str(record.get("created_at", ""))), 0.0) if record.get("created_at") else 0.0
        instance_type = record.get("instance_type") or _instance_type(work_root, record)
        hosts = len(record.get("hosts") or []) or 1
        record.update(
            record_uri=str(uri),
            age_s=round(age_s, 1),
            instance_type=instance_type,
            estimated_usd=estimate_usd(instance_type, hosts, age_s) if instance_type else None,
        )
        overview.running.append(record)


def _epoch(iso: str) -> float:
    """Turn an ISO-8601 time into seconds since the epoch.

    :param iso: e.g. ``2026-11-25T21:27:51.718+00:00``.
    """
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _instance_type(work_root: Path, record: dict[str, Any]) -> str:
    """Read a local job's instance type from the resourceconfig.json it was given, or "" when it is not here.

    :param work_root: the local jobs' working folders.
    :param record: the job record.
    """
    hosts = record.get("hosts") or ["algo-1"]
    host_dir = work_root / "jobs" / str(record.get("job_name", "")) / hosts[0]
    try:  # training's /opt/ml/input/config/resourceconfig.json names it
        return str(json.loads((host_dir / "input/config/resourceconfig.json").read_text())["current_instance_type"])
    except (OSError, ValueError, KeyError):
        pass
    try:  # processing's resourceconfig.json does not: its processingjobconfig.json does
        job_config = json.loads((host_dir / "config/processingjobconfig.json").read_text())
        return str(job_config["ProcessingResources"]["ClusterConfig"]["InstanceType"])
    except (OSError, ValueError, KeyError, TypeError):
        return ""
