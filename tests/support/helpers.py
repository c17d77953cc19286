"""Helpers for tests: a minimal Airflow task context and a view of the containers we created."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

MANAGED = "ml-lifecycle.managed=true"


def task_context(dag_id: str = "tests", task_id: str = "task", run_id: str | None = None) -> dict[str, Any]:
    """Build the parts of an Airflow task context our operators read (ti identity and run_id).

    :param dag_id: the DAG id.
    :param task_id: the task id.
    :param run_id: the DAG run id; a fresh one by default.
    """
    ti = SimpleNamespace(dag_id=dag_id, task_id=task_id, map_index=-1)
    return {"ti": ti, "run_id": run_id or f"test__{uuid.uuid4().hex[:12]}"}


def managed_containers(client: Any, **labels: str) -> list[Any]:
    """List containers we created (optionally narrowed by more labels).

    :param client: a docker SDK client.
    :param labels: extra label filters, as name=value with dashes written as underscores.
    """
    import docker

    filters = [MANAGED] + [f"ml-lifecycle.{k.replace('_', '-')}={v}" for k, v in labels.items()]
    for _ in range(10):
        try:
            return client.containers.list(all=True, filters={"label": filters})
        except docker.errors.NotFound:
            continue  # a container went away between the listing and its inspection: list again
    return client.containers.list(all=True, filters={"label": filters})


@contextmanager
def inspected_on_start(client: Any, **labels: str) -> Iterator[list[dict[str, Any]]]:
    """Record `docker inspect` of each of our containers as the engine starts it (jobs remove theirs at the end).

    :param client: a docker SDK client.
    :param labels: label filters, as name=value with dashes written as underscores (e.g. kind="transform").
    """
    wanted = [MANAGED] + [f"ml-lifecycle.{k.replace('_', '-')}={v}" for k, v in labels.items()]
    seen: list[dict[str, Any]] = []
    events = client.events(decode=True, filters={"type": "container", "event": "start", "label": wanted})

    def watch() -> None:
        for event in events:
            try:
                seen.append(client.api.inspect_container(event["id"]))
            except Exception:  # gone already: nothing to inspect
                continue

    threading.Thread(target=watch, daemon=True).start()
    try:
        yield seen
    finally:
        time.sleep(0.5)  # the last start's event
        events.close()


def wait_until(check: Callable[[], Any], what: str, timeout_s: float, interval_s: float = 0.2) -> Any:
    """Call check until it returns something truthy and return that; fail the test as a wait that timed out.

    :param check: returns a truthy value once the awaited state is reached (it may assert on what it sees meanwhile).
    :param what: the awaited state, as the failure names it ("the endpoint idle").
    :param timeout_s: how long to wait.
    :param interval_s: seconds between calls.
    """
    deadline_s = time.monotonic() + timeout_s
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() >= deadline_s:
            raise TimeoutError(f"waited {timeout_s:g} s for {what}; the last check saw {found!r}")
        time.sleep(interval_s)
