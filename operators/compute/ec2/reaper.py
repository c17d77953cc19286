"""Find and end EC2 instances and security groups whose job nobody owns any more (past deadline, DAG run ended)."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ml_lifecycle.compute.ec2.fleet import ALIVE_STATES, Ec2Fleet, ec2_errors
from ml_lifecycle.compute.ec2.security_group import delete_job_security_groups
from ml_lifecycle.core import labels
from ml_lifecycle.core.reaper_rules import instance_reap_reason

log = logging.getLogger(__name__)

DEADLINE_TAG = "ml-lifecycle.deadline"
RunState = Callable[[str, str], str | None]


@dataclass
class Ec2Orphan:
    """What was (or, in a dry run, would be) ended for one job.

    :param job: the job name.
    :param reason: why.
    :param instances: the instance ids.
    :param security_groups: the security group ids.
    """

    job: str
    reason: str
    instances: list[str] = field(default_factory=list)
    security_groups: list[str] = field(default_factory=list)


def reap_ec2(
    fleet: Ec2Fleet,
    run_state: RunState,
    *,
    match_tags: Mapping[str, str] | None = None,
    dry_run: bool = False,
    now_epoch_s: float | None = None,
) -> list[Ec2Orphan]:
    """End the instances and delete the security groups of every orphaned job (endpoints never); return them.

    :param fleet: the EC2 fleet (its clients come from the Airflow AWS connection).
    :param run_state: (dag_id, run_id) -> the DAG run's state, or None when it cannot be known.
    :param match_tags: only consider resources carrying these tags too (e.g. one DAG's), or None.
    :param dry_run: report without ending anything.
    :param now_epoch_s: the time now; default time.time().
    """
    now = time.time() if now_epoch_s is None else now_epoch_s
    wanted = {labels.MANAGED: "true", **(match_tags or {})}
    resources: dict[str, list[dict[str, str]]] = defaultdict(list)
    instances: dict[str, list[str]] = defaultdict(list)
    for instance in fleet.find(wanted, ALIVE_STATES):
        tags = _tags(instance)
        resources[tags.get(labels.JOB, "")].append(tags)
        instances[tags.get(labels.JOB, "")].append(str(instance["InstanceId"]))
    groups: dict[str, list[str]] = defaultdict(list)
    filters = [{"Name": f"tag:{key}", "Values": [value]} for key, value in wanted.items()]
    with ec2_errors("listing security groups"):
        for group in fleet.ec2().describe_security_groups(Filters=filters)["SecurityGroups"]:
            tags = _tags(group)
            resources[tags.get(labels.JOB, "")].append(tags)
            groups[tags.get(labels.JOB, "")].append(str(group["GroupId"]))
    reaped = []
    for job, tag_sets in sorted(resources.items()):
        if not job:
            continue
        reason = instance_reap_reason(
            frozenset(t.get(labels.KIND, "") for t in tag_sets),
            _earliest_deadline(tag_sets),
            _run_state(tag_sets, run_state),
            now,
        )
        if reason is None:
            continue
        orphan = Ec2Orphan(job, reason, sorted(instances.get(job, [])), sorted(groups.get(job, [])))
        log.info("Reaping EC2 job %s (%s): %s", job, reason, ", ".join(orphan.instances + orphan.security_groups))
        if not dry_run:
            fleet.terminate(orphan.instances)
            fleet.wait_terminated(orphan.instances)
            delete_job_security_groups(fleet.ec2, job)
        reaped.append(orphan)
    return reaped


def _tags(resource: Mapping[str, Any]) -> dict[str, str]:
    """Return a described resource's tags as a dict.

    :param resource: an instance or security group description.
    """
    return {str(t["Key"]): str(t["Value"]) for t in resource.get("Tags", [])}


def _earliest_deadline(tag_sets: list[dict[str, str]]) -> float | None:
    """Return the earliest deadline tag among a job's resources, or None.

    :param tag_sets: the tags of each resource.
    """
    deadlines = [float(t[DEADLINE_TAG]) for t in tag_sets if t.get(DEADLINE_TAG, "").isdigit()]
    return min(deadlines) if deadlines else None


def _run_state(tag_sets: list[dict[str, str]], run_state: RunState) -> str | None:
    """Ask for the state of the DAG run named by the job's tags, or None when the tags name none.

    :param tag_sets: the tags of each resource.
    :param run_state: (dag_id, run_id) -> state or None.
    """
    for tags in tag_sets:
        dag_id, run_id = tags.get("ml-lifecycle.dag-id"), tags.get("ml-lifecycle.run-id")
        if dag_id and run_id:
            return run_state(dag_id, run_id)
    return None


def end_run(fleet: Ec2Fleet, dag_id: str, run_id: str, keep_kinds: tuple[str, ...]) -> list[Ec2Orphan]:
    """End every instance and security group one DAG run created, except kinds to keep (e.g. endpoints).

    :param fleet: the EC2 fleet.
    :param dag_id: the DAG id.
    :param run_id: the DAG run id.
    :param keep_kinds: ``ml-lifecycle.kind`` tags to leave alone.
    """
    owner = {labels.MANAGED: "true", labels.DAG_ID: dag_id, labels.RUN_ID: run_id}
    jobs: dict[str, Ec2Orphan] = {}
    for instance in fleet.find(owner, ALIVE_STATES):
        tags = _tags(instance)
        if tags.get(labels.KIND) in keep_kinds or not tags.get(labels.JOB):
            continue
        job = jobs.setdefault(tags[labels.JOB], Ec2Orphan(tags[labels.JOB], "teardown of its DAG run"))
        job.instances.append(str(instance["InstanceId"]))
    filters = [{"Name": f"tag:{key}", "Values": [value]} for key, value in owner.items()]
    with ec2_errors("listing security groups"):
        for group in fleet.ec2().describe_security_groups(Filters=filters)["SecurityGroups"]:
            tags = _tags(group)
            if tags.get(labels.KIND) in keep_kinds or not tags.get(labels.JOB):
                continue
            job = jobs.setdefault(tags[labels.JOB], Ec2Orphan(tags[labels.JOB], "teardown of its DAG run"))
            job.security_groups.append(str(group["GroupId"]))
    for job in jobs.values():
        log.info("Ending EC2 job %s: %s", job.job, ", ".join(job.instances + job.security_groups))
        fleet.terminate(job.instances)
        fleet.wait_terminated(job.instances)
        delete_job_security_groups(fleet.ec2, job.job)
    return sorted(jobs.values(), key=lambda j: j.job)
