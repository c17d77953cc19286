"""The test Airflow's cluster policy (copied in as its ``airflow_local_settings.py``): the provider's SageMaker
operators and sensors poll every second instead of every 30 or 60 s, so an example DAG runs unchanged but does not
spend most of its time asleep. A cluster policy is Airflow's own way to change tasks without editing DAG files."""

from __future__ import annotations

from typing import Any

POLL_INTERVAL_S = 1


def task_policy(task: Any) -> None:
    """Shorten a SageMaker operator's check interval, or a sensor's poke interval.

    :param task: a task of a DAG being parsed.
    """
    if hasattr(task, "check_interval"):
        task.check_interval = POLL_INTERVAL_S
    if hasattr(task, "poke_interval"):
        task.poke_interval = POLL_INTERVAL_S
