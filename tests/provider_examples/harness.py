"""Stand-ins for the Apache Airflow repository's system-test harness, which the Amazon provider's example DAGs
import (``system.amazon.aws.utils``, ``tests_common.test_utils``) and which is not published: the run's id and
variables, log pruning (nothing of ours to prune), and the watcher that fails the run when any task failed."""

from __future__ import annotations

import os
from typing import Any

from airflow.sdk import TriggerRule, task

ENV_ID_KEY = "ENV_ID"
AIRFLOW_V_3_0_PLUS = True


class SystemTestContextBuilder:
    """Builds the task that hands the DAG its environment id and variables (read from the environment here)."""

    def __init__(self) -> None:
        self.variables: list[str] = []

    def add_variable(self, name: str, **_: Any) -> SystemTestContextBuilder:
        """Ask for a variable.

        :param name: its name (an environment variable of the same name here).
        """
        self.variables.append(name)
        return self

    def build(self) -> Any:
        """Return the task."""
        names = list(self.variables)

        @task(task_id="variable_fetcher")
        def variable_fetcher() -> dict[str, str]:
            return {ENV_ID_KEY: os.environ["SYSTEM_TESTS_ENV_ID"], **{n: os.environ[n] for n in names}}

        return variable_fetcher


def prune_logs(logs: list[tuple[str, str]], **_: Any) -> Any:
    """Return the harness's log cleanup: nothing to remove here (the jobs' logs live with their state).

    :param logs: (log group, stream prefix) pairs.
    """

    @task(trigger_rule=TriggerRule.ALL_DONE)
    def prune_logs() -> int:
        return len(logs)

    return prune_logs()


@task(trigger_rule=TriggerRule.ONE_FAILED, retries=0)
def watcher() -> None:
    """Fail the run when any task failed (teardown tasks with ALL_DONE would hide it otherwise)."""
    raise RuntimeError("a task failed; see its log")


def get_test_run(dag: Any) -> None:
    """The harness's pytest hook; the DAG is run with ``airflow dags test`` here (its polls are shortened by the test
    Airflow's cluster policy, quick_polls_policy.py).

    :param dag: the DAG.
    """
