"""Remove what a DAG run or a job left on the Docker engine, found by our labels."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine
from ml_lifecycle.core import labels

log = logging.getLogger(__name__)


def remove_job(engine: DockerEngine, job_name: str, work_root: Path) -> int:
    """Remove a job's containers, networks and working folder; return how many containers were removed.

    :param engine: the Docker engine.
    :param job_name: the job name.
    :param work_root: the folder holding job working folders.
    """
    containers = engine.containers({labels.JOB: job_name})
    for container in containers:
        engine.remove(container)
    for network in engine.networks({labels.JOB: job_name}):
        network.remove()
    shutil.rmtree(work_root / "jobs" / job_name, ignore_errors=True)
    return len(containers)


def remove_run(
    engine: DockerEngine, dag_id: str, run_id: str, work_root: Path, keep_kinds: tuple[str, ...]
) -> list[str]:
    """Remove every container and network a DAG run created, except kinds to keep (e.g. endpoints).

    :param engine: the Docker engine.
    :param dag_id: the DAG id.
    :param run_id: the DAG run id.
    :param work_root: the folder holding job working folders.
    :param keep_kinds: resource kinds to leave alone, e.g. ``("endpoint",)``.
    """
    owner = {labels.DAG_ID: dag_id, labels.RUN_ID: run_id, labels.MANAGED: "true"}
    jobs = set()
    removed = []
    for container in engine.containers(owner):
        if container.labels.get(labels.KIND) in keep_kinds:
            continue
        jobs.add(container.labels.get(labels.JOB, ""))
        engine.remove(container)
        removed.append(container.name)
    for network in engine.networks(owner):
        if (network.attrs.get("Labels") or {}).get(labels.KIND) in keep_kinds:
            continue
        network.remove()
        removed.append(f"network {network.name}")
    for job in sorted(j for j in jobs if j):
        shutil.rmtree(work_root / "jobs" / job, ignore_errors=True)
    return removed
