"""ReapOrphansOperator on the Docker engine: orphaned jobs go, running jobs and endpoints stay."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid

import pytest
from support.helpers import task_context

from ml_lifecycle.core.reaper_rules import JobLeftovers, reap_reason
from ml_lifecycle.reaper import ReapOrphansOperator

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("leftovers", "expected"),
    [
        (JobLeftovers("j", frozenset({"training"}), NOW - 10, None, "Completed", False), "agent is gone"),
        (JobLeftovers("j", frozenset({"training"}), NOW - 10, None, "Completed", True), None),
        (JobLeftovers("j", frozenset({"training"}), NOW - 10, None, "Completed", None), None),
        (JobLeftovers("j", frozenset({"training"}), NOW - 10, None, "InProgress", False), None),
        (JobLeftovers("j", frozenset({"training"}), NOW - 10, NOW - 1, None, None), "past its deadline"),
        (JobLeftovers("j", frozenset({"transform"}), NOW - 7200, None, None, None), "past its deadline"),
        (JobLeftovers("j", frozenset({"endpoint"}), NOW - 10**6, NOW - 1, "Failed", False), None),
    ],
)
def test_reap_rules(leftovers, expected):
    reason = reap_reason(leftovers, NOW, max_job_age_s=3600)
    assert (reason is None) if expected is None else (expected in reason)


def _dead_pid() -> int:
    """Return the pid of a process that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.mark.docker
def test_orphans_are_reaped_and_owned_jobs_and_endpoints_are_kept(tmp_path, docker_client, example_image, ml_home):
    scope = f"reaper-test-{uuid.uuid4().hex[:8]}"
    roots = tmp_path / "training"
    here = socket.gethostname()

    def job(name: str, kind: str = "training", deadline: float | None = None, record: dict | None = None) -> str:
        full = f"{scope}-{name}"
        job_labels = {
            "ml-lifecycle.managed": "true",
            "ml-lifecycle.kind": kind,
            "ml-lifecycle.job": full,
            "ml-lifecycle.dag-id": scope,
        }
        if deadline is not None:
            job_labels["ml-lifecycle.deadline"] = str(deadline)
        docker_client.containers.run(
            example_image,
            entrypoint=["sleep"],
            command=["600"],
            name=f"mlc-{full}-algo-1",
            labels=job_labels,
            detach=True,
        )
        if record is not None:
            (roots / full).mkdir(parents=True)
            (roots / full / "status.json").write_text(json.dumps({"job_name": full, "kind": kind, **record}))
        return full

    ended = job("ended", record={"status": "Completed", "agent": {"pid": _dead_pid(), "host": here}})
    running = job("running", record={"status": "InProgress", "agent": {"pid": os.getpid(), "host": here}})
    closing = job("closing", record={"status": "Completed", "agent": {"pid": os.getpid(), "host": here}})
    late = job("late", deadline=time.time() - 5)
    young = job("young")
    endpoint = job("endpoint", kind="endpoint", deadline=time.time() - 5)
    docker_client.networks.create(
        f"mlc-{ended}", labels={"ml-lifecycle.managed": "true", "ml-lifecycle.job": ended, "ml-lifecycle.dag-id": scope}
    )
    (ml_home / "work" / "jobs" / ended).mkdir(parents=True)
    try:
        op = ReapOrphansOperator(
            task_id="reap", record_roots=[f"file://{roots}"], match_labels={"ml-lifecycle.dag-id": scope}
        )
        first = op.execute(task_context())
        assert {r["job"]: r["reason"] for r in first["reaped"]}.keys() == {ended, late}
        assert f"mlc-{ended}" in next(r for r in first["reaped"] if r["job"] == ended)["networks"]
        assert not (ml_home / "work" / "jobs" / ended).exists()
        left = {
            c.labels["ml-lifecycle.job"]
            for c in docker_client.containers.list(all=True, filters={"label": f"ml-lifecycle.dag-id={scope}"})
        }
        assert left == {running, closing, young, endpoint}
        assert docker_client.networks.list(names=[f"mlc-{ended}"]) == []

        dry = ReapOrphansOperator(
            task_id="dry", max_job_age_s=0, match_labels={"ml-lifecycle.dag-id": scope}, dry_run=True
        )
        assert {r["job"] for r in dry.execute(task_context())["reaped"]} == {running, closing, young}
        everything = ReapOrphansOperator(task_id="all", max_job_age_s=0, match_labels={"ml-lifecycle.dag-id": scope})
        assert {r["job"] for r in everything.execute(task_context())["reaped"]} == {running, closing, young}
        left = docker_client.containers.list(all=True, filters={"label": f"ml-lifecycle.dag-id={scope}"})
        assert [c.labels["ml-lifecycle.job"] for c in left] == [endpoint]
    finally:
        for container in docker_client.containers.list(all=True, filters={"label": f"ml-lifecycle.dag-id={scope}"}):
            container.remove(force=True)
        for network in docker_client.networks.list(filters={"label": f"ml-lifecycle.dag-id={scope}"}):
            network.remove()


@pytest.mark.docker
def test_a_running_job_whose_dag_run_was_deleted_is_reaped(
    tmp_path, sample_data, example_image, ml_home, docker_client
):
    # Before: a training job orphaned when its DAG run was deleted (as `airflow dags test` does before a rerun) ran
    # to its end, unreaped: its agent lives and its deadline is far.
    from airflow.sdk.exceptions import AirflowRuntimeError, ErrorType
    from airflow.sdk.execution_time.comms import ErrorResponse

    from ml_lifecycle import TrainOnEC2Operator

    scope = f"gone-{uuid.uuid4().hex[:8]}"
    train = TrainOnEC2Operator(
        task_id="train",
        image_uri=example_image,
        channels={"train": f"file://{sample_data}/train"},
        output_path=f"file://{tmp_path}/training",
        entrypoint=["sh", "-c", "sleep 120"],
        wait_for_completion=False,
    )
    started = train.execute(task_context(dag_id=scope, run_id="deleted-run"))
    kept = TrainOnEC2Operator(
        task_id="train",
        image_uri=example_image,
        channels={"train": f"file://{sample_data}/train"},
        output_path=f"file://{tmp_path}/training",
        entrypoint=["sh", "-c", "sleep 120"],
        wait_for_completion=False,
    ).execute(task_context(dag_id=scope, run_id="live-run"))
    jobs = (started["job_name"], kept["job_name"])
    deadline = time.monotonic() + 60
    while (
        len(
            {
                c.labels["ml-lifecycle.job"]
                for c in docker_client.containers.list(filters={"label": f"ml-lifecycle.dag-id={scope}"})
            }
        )
        < 2
    ):
        if time.monotonic() > deadline:  # a readiness wait, not a speed check
            pytest.fail("the jobs' containers never started")
        time.sleep(0.2)

    def get_dagrun_state(dag_id: str, run_id: str) -> str:
        """Answer as the Airflow API server does: the live run runs, the deleted one is not found (404)."""
        if run_id == "live-run":
            return "running"
        raise AirflowRuntimeError(
            ErrorResponse(error=ErrorType.API_SERVER_ERROR, detail={"status_code": 404, "message": "Not Found"})
        )

    context = task_context()
    context["ti"].get_dagrun_state = get_dagrun_state
    try:
        reaped = ReapOrphansOperator(
            task_id="reap", record_roots=[f"file://{tmp_path}/training"], match_labels={"ml-lifecycle.dag-id": scope}
        ).execute(context)["reaped"]
        assert {r["job"]: r["reason"] for r in reaped} == {jobs[0]: "its DAG run no longer exists (it was deleted)"}
        left = docker_client.containers.list(filters={"label": f"ml-lifecycle.dag-id={scope}"})
        assert {c.labels["ml-lifecycle.job"] for c in left} == {jobs[1]}
    finally:
        for container in docker_client.containers.list(all=True, filters={"label": f"ml-lifecycle.dag-id={scope}"}):
            container.remove(force=True)
