"""Find and remove the containers and networks of jobs nobody owns any more, on the local Docker engine."""

from __future__ import annotations

import logging
import re
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ml_lifecycle.compute.local.agent_identity import agent_alive
from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine
from ml_lifecycle.core import labels
from ml_lifecycle.core.reaper_rules import JobLeftovers, reap_reason
from ml_lifecycle.core.status import JobRecord

log = logging.getLogger(__name__)

DEADLINE = "ml-lifecycle.deadline"

_TIMESTAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$")

RecordFinder = Callable[[str], JobRecord | None]


@dataclass
class Reaped:
    """What was (or, in a dry run, would be) removed for one job.

    :param job: the job name.
    :param reason: why it was reaped.
    :param containers: the container names.
    :param networks: the network names.
    """

    job: str
    reason: str
    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)


def reap(
    engine: DockerEngine,
    find_record: RecordFinder,
    work_root: Path,
    *,
    max_job_age_s: float,
    match_labels: Mapping[str, str] | None = None,
    dry_run: bool = False,
    is_alive: Callable[[int], bool] | None = None,
    run_state: Callable[[str, str], str | None] | None = None,
) -> list[Reaped]:
    """Remove the leftovers of every orphaned job (endpoints never) and return what was removed.

    :param engine: the Docker engine.
    :param find_record: job name -> its record, or None when none is found.
    :param work_root: the folder holding job working folders (``jobs/<job>`` is removed with the job).
    :param max_job_age_s: the age after which a job without a deadline label is past its deadline.
    :param match_labels: only consider resources carrying these labels too (e.g. one DAG's), or None.
    :param dry_run: report without removing anything.
    :param is_alive: pid -> whether that process lives on this host; default reads /proc.
    :param run_state: (dag_id, run_id) -> the DAG run's state (reaper_rules.RUN_GONE when it no longer exists), or
        None when it cannot be known; None asks nothing.
    """
    if is_alive is None:
        from ml_lifecycle.compute.local.agent_identity import is_alive
    wanted = {labels.MANAGED: "true", **(match_labels or {})}
    containers = _by_job(engine.containers(wanted))
    networks = _by_job(engine.networks(wanted))
    reaped = []
    states: dict[tuple[str, str], str | None] = {}
    now = time.time()
    for job in sorted(set(containers) | set(networks)):
        owned = containers.get(job, []) + networks.get(job, [])
        record = find_record(job)
        leftovers = JobLeftovers(
            job=job,
            kinds=frozenset(resource_labels(r).get(labels.KIND, "") for r in owned),
            created_epoch_s=min(created_epoch_s(r) for r in owned),
            deadline_epoch_s=_deadline(owned),
            record_status=record.status if record else None,
            agent_alive=agent_alive(record, is_alive),
            run_state=_run_of(owned, run_state, states),
        )
        reason = reap_reason(leftovers, now, max_job_age_s)
        if reason is None:
            continue
        done = Reaped(job, reason, [c.name for c in containers.get(job, [])], [n.name for n in networks.get(job, [])])
        log.info("Reaping job %s (%s): %s", job, reason, ", ".join(done.containers + done.networks))
        if not dry_run:
            for container in containers.get(job, []):
                engine.remove(container)
            for network in networks.get(job, []):
                network.remove()
            shutil.rmtree(work_root / "jobs" / job, ignore_errors=True)
        reaped.append(done)
    return reaped


def _run_of(
    owned: Sequence[Any],
    run_state: Callable[[str, str], str | None] | None,
    states: dict[tuple[str, str], str | None],
) -> str | None:
    """Return the state of the DAG run a job's resources name (asked once per run), or None when unknown.

    :param owned: the job's containers and networks.
    :param run_state: (dag_id, run_id) -> state, or None to ask nothing.
    :param states: the answers so far, by run.
    """
    if run_state is None:
        return None
    for resource in owned:
        found = resource_labels(resource)
        run = (found.get(labels.DAG_ID, ""), found.get(labels.RUN_ID, ""))
        if all(run):
            if run not in states:
                states[run] = run_state(*run)
            return states[run]
    return None


def resource_labels(resource: Any) -> dict[str, str]:
    """Return a container's or network's labels.

    :param resource: a docker SDK container or network.
    """
    attrs = resource.attrs
    return dict(attrs.get("Labels") or (attrs.get("Config") or {}).get("Labels") or {})


def _by_job(resources: Sequence[Any]) -> dict[str, list[Any]]:
    """Group resources by their job label (resources without one are left alone).

    :param resources: docker SDK containers or networks.
    """
    grouped: dict[str, list[Any]] = {}
    for resource in resources:
        job = resource_labels(resource).get(labels.JOB)
        if job:
            grouped.setdefault(job, []).append(resource)
    return grouped


def created_epoch_s(resource: Any) -> float:
    """Return when a container or network was created, in seconds since the epoch.

    :param resource: a docker SDK container or network.
    """
    text = str(resource.attrs.get("Created", ""))
    match = _TIMESTAMP.match(text)
    if match is None:
        raise ValueError(f"{resource.name} has an unreadable creation time {text!r}")
    whole, fraction, zone = match.groups()
    stamp = datetime.fromisoformat(whole + ("+00:00" if zone in (None, "Z") else zone))
    return stamp.timestamp() + float(fraction or 0)


def _deadline(resources: Sequence[Any]) -> float | None:
    """Return the earliest deadline label among resources, or None.

    :param resources: docker SDK containers or networks.
    """
    found = []
    for resource in resources:
        value = resource_labels(resource).get(DEADLINE)
        if not value:
            continue
        try:
            found.append(float(value))
        except ValueError:
            log.warning("Ignoring %s=%r on %s: not seconds since the epoch", DEADLINE, value, resource.name)
    return min(found) if found else None
