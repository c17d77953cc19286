"""DeployEndpointOperator(compute="ec2", deferrable=True) against moto, through Airflow's trigger machinery: the
health wait, each traffic step's watch and the bake happen in EndpointDeployTrigger; the task resumes to take the
next step, finish or roll back.

moto reports a registered running instance healthy at once and a stopped one "unused"; its load balancer computes no
metric (the error rate reads none). The triggers here run in this process (asyncio), as the triggerer runs them.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from airflow.sdk.exceptions import TaskDeferred
from support import ec2_endpoints as ep
from support.helpers import task_context, wait_until
from support.moto import aws_connection
from support.tcp_proxy import CuttableProxy

from ml_lifecycle.compute.ec2.endpoint_rollout import UpdateRolledBack
from ml_lifecycle.core.ec2.endpoint_hosts import HOST_REPORT
from ml_lifecycle.errors import EndpointBusy
from ml_lifecycle.triggers.endpoint_deploy import EndpointDeployTrigger


def _event(deferred: TaskDeferred, **changed: Any) -> dict[str, Any]:
    """Rebuild the deferral's trigger from its serialized form and run it to its event, as the triggerer does.

    :param deferred: what the task raised.
    :param changed: trigger arguments to change (e.g. the connection it checks through).
    """
    classpath, kwargs = deferred.trigger.serialize()
    assert classpath == "ml_lifecycle.triggers.endpoint_deploy.EndpointDeployTrigger"
    rebuilt = EndpointDeployTrigger(**{**kwargs, **changed})

    async def first() -> Any:
        return await rebuilt.run().__anext__()

    # Not asyncio.run: it would wait for a check the trigger gave up on (its thread ends when its endpoint closes).
    loop = asyncio.new_event_loop()
    try:
        return dict(loop.run_until_complete(first()).payload)
    finally:
        loop.close()


def _drive(
    op: Any, context: dict[str, Any], between: Any = None, trigger_changes: Any = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run a deferrable deploy to its end: execute, then each trigger and execute_complete; return its XCom and waits.

    :param op: the operator.
    :param context: the task context (the same DAG run resumes it).
    :param between: called with each wait's progress while the task is deferred, before its trigger runs.
    :param trigger_changes: called with each wait's progress; returns the trigger arguments to change for it.
    """
    waits: list[dict[str, Any]] = []
    step = lambda: op.execute(context)  # noqa: E731
    while True:
        try:
            return step(), waits
        except TaskDeferred as deferred:
            assert deferred.method_name == "execute_complete"
            wait = deferred.kwargs["wait"]
            waits.append(wait["progress"])
            if between is not None:
                between(wait["progress"])
            event = _event(deferred, **(trigger_changes(wait["progress"]) if trigger_changes else {}))
            step = lambda event=event, kwargs=deferred.kwargs: op.execute_complete(context, event, **kwargs)  # noqa: E731


def test_a_deferred_creation_waits_for_health_in_the_triggerer_then_serves(cloud):
    context = task_context()
    result, waits = _drive(ep.deploy_task(cloud, deferrable=True), context)

    state = ep.read_state(cloud)
    assert [w["phase"] for w in waits] == ["healthy"]
    assert state["status"] == "InService" and state["pending"] is None
    assert result["revision"] == state["live"]["revision"] == waits[0]["revision"]
    assert result["url"] == f"http://{state['dns_name']}"
    assert [h["outcome"] for h in state["history"]] == ["created"]
    ep.delete_endpoint(cloud)
    ep.nothing_left(cloud)


def test_a_deferred_creation_whose_host_fails_is_undone_when_the_task_resumes(cloud):
    from ml_lifecycle.compute.ec2.endpoint_health import RevisionUnhealthy

    def the_host_fails(progress: dict[str, Any]) -> None:
        # What the instance's agent writes when its model cannot start (no agent runs on moto's instances).
        (instance_id,) = ep.read_state(cloud)["pending"]["instance_ids"][:1]
        key = f"ml-lifecycle/endpoints/{cloud.name}/revisions/{progress['revision']}/staging/hosts/{instance_id}"
        report = '{"status": "Failed", "failure_reason": "the model did not load"}'
        cloud.s3.put_object(Bucket=ep.BUCKET, Key=f"{key}/{HOST_REPORT}", Body=report.encode())

    with pytest.raises(RevisionUnhealthy, match="the model did not load"):
        _drive(ep.deploy_task(cloud, deferrable=True), task_context(), the_host_fails)

    state = ep.read_state(cloud)
    assert state["status"] == "Failed" and "the model did not load" in state["failure_reason"]
    assert ep.instances(cloud) == []
    ep.deploy_task(cloud).execute(task_context(dag_id="other"))  # the lease was given back
    ep.delete_endpoint(cloud)
    ep.nothing_left(cloud)


def test_a_deferred_canary_update_holds_the_endpoint_through_each_step_then_ends_the_old_revision(cloud):
    ep.deploy_task(cloud).execute(task_context())
    blue = ep.read_state(cloud)["live"]
    context = task_context(dag_id="deferred")
    seen: list[tuple[str, int, int]] = []

    def while_deferred(progress: dict[str, Any]) -> None:
        state = ep.read_state(cloud)
        seen.append((progress["phase"], progress["step"], state["pending"]["weight"]))
        with pytest.raises(EndpointBusy):  # the lease is held across the deferral: another DAG run must wait
            ep.deploy_task(cloud, "v2").execute(task_context(dag_id="other"))

    shift = {"type": "canary", "canary_percent": 10, "wait_s": 1}
    op = ep.deploy_task(cloud, "v2", deferrable=True, traffic_shift=shift, bake_s=1)
    result, _ = _drive(op, context, while_deferred)

    assert seen == [("healthy", -1, 0), ("watch", 0, 10), ("watch", 1, 100)]
    green = _only_revision_serves(cloud, "updated")
    assert green["revision"] == result["revision"] != blue["revision"]


def test_a_canary_that_fails_in_the_triggerer_is_rolled_back_when_the_task_resumes(cloud):
    ep.deploy_task(cloud).execute(task_context())
    blue = ep.read_state(cloud)["live"]

    def stop_the_canary(progress: dict[str, Any]) -> None:
        if progress["phase"] == "watch":
            cloud.ec2.stop_instances(InstanceIds=ep.read_state(cloud)["pending"]["instance_ids"])

    shift = {"type": "canary", "canary_percent": 10, "wait_s": 30}
    op = ep.deploy_task(cloud, "v2", deferrable=True, traffic_shift=shift)
    with pytest.raises(UpdateRolledBack, match=r"rolled back.*serves every request again"):
        _drive(op, task_context(), stop_the_canary)

    assert _only_revision_serves(cloud, "rolled_back")["revision"] == blue["revision"]


def test_a_rollback_whose_cleanup_fails_says_so_and_not_that_the_old_revision_serves_again(cloud):
    ep.deploy_task(cloud).execute(task_context())

    def stop_the_canary_and_lose_the_listener(progress: dict[str, Any]) -> None:
        if progress["phase"] == "watch":
            state = ep.read_state(cloud)
            cloud.ec2.stop_instances(InstanceIds=state["pending"]["instance_ids"])
            cloud.elbv2.delete_listener(ListenerArn=state["listener_arn"])  # the rollback's first step will fail

    shift = {"type": "canary", "canary_percent": 10, "wait_s": 30}
    op = ep.deploy_task(cloud, "v2", deferrable=True, traffic_shift=shift)
    with pytest.raises(UpdateRolledBack) as failed:
        _drive(op, task_context(), stop_the_canary_and_lose_the_listener)

    said = str(failed.value)
    assert "serves every request again" not in said
    assert "the listener could not be read" in said and "the rollback failed" in said
    assert "rollback of revision" in ep.read_state(cloud)["failure_reason"]
    ep.delete_endpoint(cloud)
    ep.nothing_left(cloud)


@pytest.fixture
def unanswering_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Two Airflow AWS connections whose endpoint fails every check: one refuses connections, one never answers."""
    refusing = socket.socket()
    refusing.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the kernel accepts connections; nobody reads or answers them
    names = {}
    for name, sock in (("refused", refusing), ("silent", silent)):
        endpoint = f"http://127.0.0.1:{sock.getsockname()[1]}"
        monkeypatch.setenv(f"AIRFLOW_CONN_AWS_{name.upper()}", aws_connection(endpoint))
        names[name] = f"aws_{name}"
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    try:
        yield names
    finally:
        refusing.close()
        silent.close()


@pytest.mark.parametrize(
    ("connection", "grace", "expected"),
    [
        ("refused", {}, r"a check failed \(StoreError: Could not reach S3"),
        ("silent", {"check_grace_s": 0.5}, "did not answer by the deadline"),
    ],
    ids=["check_raises", "check_times_out"],
)
def test_a_check_that_raises_or_times_out_in_the_triggerer_rolls_the_canary_back_when_the_task_resumes(
    cloud, unanswering_aws, connection, grace, expected
):
    ep.deploy_task(cloud).execute(task_context())
    blue = ep.read_state(cloud)["live"]

    def fail_the_watch(progress: dict[str, Any]) -> dict[str, Any]:
        if progress["phase"] != "watch":
            return {}
        # The check goes through an AWS endpoint that fails; the deadline is now, so a silent one is given up at once.
        return {"aws_conn_id": unanswering_aws[connection], "deadline_epoch_s": time.time(), **grace}

    shift = {"type": "canary", "canary_percent": 10, "wait_s": 30}
    op = ep.deploy_task(cloud, "v2", deferrable=True, traffic_shift=shift)
    with pytest.raises(UpdateRolledBack, match=expected):
        _drive(op, task_context(), trigger_changes=fail_the_watch)

    assert _only_revision_serves(cloud, "rolled_back")["revision"] == blue["revision"]


def test_a_check_that_fails_once_is_asked_again_at_the_next_poll_and_the_update_goes_on(
    cloud, moto_server, monkeypatch, capfd
):
    from urllib.parse import urlsplit

    moto = urlsplit(moto_server)
    flaky = CuttableProxy(str(moto.hostname), int(moto.port or 80))
    monkeypatch.setenv("AIRFLOW_CONN_AWS_FLAKY", aws_connection(f"http://127.0.0.1:{flaky.port}"))
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # botocore's own retry would hide the failure from the trigger
    ep.deploy_task(cloud).execute(task_context())
    blue = ep.read_state(cloud)["live"]

    def one_failed_check(progress: dict[str, Any]) -> dict[str, Any]:
        if (progress["phase"], progress["step"]) != ("watch", 0):
            return {}
        flaky.cut()  # the first check fails (AWS drops the connection); the endpoint answers again after it

        def restore_after_a_refusal() -> None:
            wait_until(lambda: flaky.refused, "a check refused", timeout_s=30, interval_s=0.05)
            flaky.restore()

        threading.Thread(target=restore_after_a_refusal, daemon=True).start()
        return {"aws_conn_id": "aws_flaky", "poll_interval_s": 1.0}

    shift = {"type": "canary", "canary_percent": 10, "wait_s": 1}
    op = ep.deploy_task(cloud, "v2", deferrable=True, traffic_shift=shift)
    result, _ = _drive(op, task_context(), trigger_changes=one_failed_check)

    assert flaky.refused >= 1
    said = "".join(capfd.readouterr())  # the trigger logs through structlog, as in the triggerer
    assert re.search(r"a check failed \(StoreError: Could not reach S3.*checking again in 1 s", said)
    green = _only_revision_serves(cloud, "updated")
    assert green["revision"] == result["revision"] != blue["revision"]


def _only_revision_serves(cloud: Any, outcome: str) -> dict[str, Any]:
    """Check that one revision takes every request and owns every instance after an update with this outcome, and
    that the endpoint's lease was given back (another DAG run deploys it); delete it and return that revision.

    :param cloud: the moto clients and the endpoint's name.
    :param outcome: the update's outcome in the endpoint's history (``updated``, ``rolled_back``).
    """
    state = ep.read_state(cloud)
    live = state["live"]
    assert state["pending"] is None and [h["outcome"] for h in state["history"]] == ["created", outcome]
    assert ep.listener_weights(cloud, state["listener_arn"]) == {live["target_group_arn"]: 100}
    assert ep.instances(cloud) == sorted(live["instance_ids"])
    ep.deploy_task(cloud).execute(task_context(dag_id="other"))
    ep.delete_endpoint(cloud)
    ep.nothing_left(cloud)
    return dict(live)
