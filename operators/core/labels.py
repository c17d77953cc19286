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
