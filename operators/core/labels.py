"""The labels that mark every container and network we create, so teardown and reapers can find them."""

from __future__ import annotations

MANAGED = "ml-lifecycle.managed"
JOB = "ml-lifecycle.job"
KIND = "ml-lifecycle.kind"
HOST = "ml-lifecycle.host"
ENDPOINT = "ml-lifecycle.endpoint"
REVISION = "ml-lifecycle.revision"
RUN_ID = "ml-lifecycle.run-id"
DAG_ID = "ml-lifecycle.dag-id"
# An endpoint's opt-in idle limit and its instance type, on its resources so the reaper and the page read them there.
IDLE_DELETE_AFTER_H = "ml-lifecycle.idle-delete-after-h"
INSTANCE_TYPE = "ml-lifecycle.instance-type"


def owned(kind: str, job: str, owner: dict[str, str], **extra: str) -> dict[str, str]:
    """Return the full label set of one resource.

    :param kind: ``training``, ``transform`` or ``endpoint``.
    :param job: the job (or endpoint) name.
    :param owner: the Airflow identity labels (see RunIdentity.labels).
    :param extra: more labels, e.g. host or revision.
    """
    labels = {MANAGED: "true", KIND: kind, JOB: job, **owner}
    labels.update({f"ml-lifecycle.{k.replace('_', '-')}": v for k, v in extra.items()})
    return labels


def endpoint_labels(instance_type: str, idle_delete_after_h: float | None) -> dict[str, str]:
    """Return the labels a deploy adds to its owner's: the instance type, and the idle limit when one is set.

    :param instance_type: the serving instances' type.
    :param idle_delete_after_h: the idle limit in hours, or None.
    """
    found = {INSTANCE_TYPE: instance_type}
    if idle_delete_after_h is not None:
        found[IDLE_DELETE_AFTER_H] = repr(float(idle_delete_after_h))  # exact: the reaper reads it back
    return found
