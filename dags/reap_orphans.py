"""Reap orphans: every hour, remove containers and networks of jobs that nothing owns any more (never endpoints).

A job is an orphan when it is past its deadline, or when its record is terminal and its agent is gone (a killed
worker, a crashed agent). With ``ML_LIFECYCLE_REAP_COMPUTE=local,ec2`` in the environment of the DAG processor, a
second task also ends EC2 instances and security groups carrying our tags that are past their deadline or whose DAG
run has ended. See ``ml_lifecycle.reaper.ReapOrphansOperator``.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from ml_lifecycle.compute import DEFAULT_BACKEND
from ml_lifecycle.reaper import ReapOrphansOperator
from ml_lifecycle.settings import default_artifact_root

ARTIFACT_ROOT = default_artifact_root().rstrip("/")
REAP_COMPUTE = [c.strip() for c in os.environ.get("ML_LIFECYCLE_REAP_COMPUTE", DEFAULT_BACKEND).split(",") if c.strip()]

with DAG(
    dag_id="reap_orphans",
    description="Remove what orphaned training and transform jobs left on the Docker engine",
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=5)},
    tags=["ml-lifecycle", "maintenance"],
) as dag:
    for index, compute in enumerate(REAP_COMPUTE):
        ReapOrphansOperator(
            task_id="reap_orphans" if index == 0 else f"reap_orphans_{compute}",
            record_roots=[f"{ARTIFACT_ROOT}/training"],
            compute=compute,
        )
