"""Glue shared by the operators: the task's identity, and the engine and stores it runs with."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ml_lifecycle.core.naming import RunIdentity
from ml_lifecycle.core.uris import ArtifactUri
from ml_lifecycle.stores.base import ArtifactStore

log = logging.getLogger(__name__)


def identity_from_context(context: Any) -> RunIdentity:
    """Read who is running (DAG, task, run, map index) from an Airflow task context.

    :param context: the Airflow context passed to execute().
    """
    ti = context["ti"]
    return RunIdentity(
        dag_id=ti.dag_id,
        task_id=ti.task_id,
        run_id=context["run_id"],
        map_index=int(getattr(ti, "map_index", -1) if getattr(ti, "map_index", None) is not None else -1),
    )


def store_factory(aws_conn_id: str | None) -> Callable[[ArtifactUri], ArtifactStore]:
    """Return store_for bound to an Airflow AWS connection (used only for s3:// URIs).

    :param aws_conn_id: the Airflow AWS connection id, or None for boto3's default chain.
    """
    from ml_lifecycle.aws_clients import client_factory
    from ml_lifecycle.stores import store_for

    s3 = client_factory("s3", aws_conn_id)

    def factory(uri: ArtifactUri) -> ArtifactStore:
        return store_for(uri, s3_client_factory=s3)

    return factory


def detached_store_factory(aws_conn_id: str | None, uris: list[str]) -> Callable[[ArtifactUri], ArtifactStore]:
    """Return store_for usable in a detached agent: the AWS connection is resolved now, only if an s3:// URI needs it.

    :param aws_conn_id: the Airflow AWS connection id, or None for boto3's default chain.
    :param uris: every location the job touches.
    """
    from ml_lifecycle.aws_clients import detached_client_factory
    from ml_lifecycle.stores import store_for

    s3 = detached_client_factory("s3", aws_conn_id) if any(u.startswith("s3://") for u in uris) else None

    def factory(uri: ArtifactUri) -> ArtifactStore:
        return store_for(uri, s3_client_factory=s3)

    return factory


@contextmanager
def fail_fast_unless_retryable() -> Iterator[None]:
    """Turn an EC2 error that a retry cannot fix (a bad AMI, a quota) into a failure Airflow does not retry."""
    from ml_lifecycle.errors import ComputeError

    try:
        yield
    except ComputeError as err:
        if err.retryable:
            raise
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(str(err)) from err
