"""The reaper's rules for batch transforms, which carry no deadline label: judged by their runner, else by age."""

from __future__ import annotations

import socket

import pytest

from ml_lifecycle.compute.local import agent_identity
from ml_lifecycle.compute.local.agent_identity import is_alive
from ml_lifecycle.core.reaper_rules import JobLeftovers, reap_reason
from ml_lifecycle.core.status import JobRecord

NOW = 1_800_000_000.0
MAX_AGE_S = 3600.0
YOUNG = NOW - 10
OLD = NOW - 2 * MAX_AGE_S
TRANSFORM = frozenset({"transform"})


def _job(
    kinds: frozenset[str], created: float, deadline: float | None, status: str | None, alive: bool | None
) -> JobLeftovers:
    """Describe one job's leftovers.

    :param kinds: its resources' kind labels.
    :param created: when its oldest resource was created.
    :param deadline: its deadline label, or None.
    :param status: its record's status, or None without a record.
    :param alive: whether its agent lives, or None when that cannot be known.
    """
    return JobLeftovers("j", kinds, created, deadline, status, alive)


@pytest.mark.parametrize(
    ("leftovers", "expected"),
    [
        # The runner lives: kept, even past max_job_age_s (nothing bounds a transform's runtime).
        (_job(TRANSFORM, YOUNG, None, "InProgress", True), None),
        (_job(TRANSFORM, OLD, None, "InProgress", True), None),
        (_job(TRANSFORM, OLD, None, "Completed", True), None),
        # The runner is gone: reaped whatever the record says (a transform is never resumed).
        (_job(TRANSFORM, YOUNG, None, "InProgress", False), "its record says InProgress and its runner is gone"),
        (_job(TRANSFORM, YOUNG, None, "Failed", False), "its record says Failed and its runner is gone"),
        (_job(TRANSFORM, OLD, None, "Completed", False), "its runner is gone"),
        # The runner cannot be seen (no record, another host's, a record from before runners were named): by age.
        (_job(TRANSFORM, YOUNG, None, None, None), None),
        (_job(TRANSFORM, YOUNG, None, "InProgress", None), None),
        (_job(TRANSFORM, OLD, None, None, None), "past its deadline 2027-01-15T07:00:00"),
        (_job(TRANSFORM, OLD, None, "InProgress", None), "past its deadline"),
        # A deadline label, when one is there, wins over a live runner.
        (_job(TRANSFORM, YOUNG, NOW - 1, "InProgress", True), "past its deadline 2027-01-15T07:59:59"),
        (_job(TRANSFORM, OLD, NOW + 60, "InProgress", True), None),
        # Training keeps its rules: a gone agent with a record in progress may be resumed, so only age or deadline.
        (_job(frozenset({"training"}), YOUNG, None, "InProgress", False), None),
        (_job(frozenset({"training"}), OLD, None, "InProgress", True), "past its deadline"),
        (_job(frozenset({"training"}), YOUNG, NOW + 60, "Completed", False), "its agent is gone"),
        # Endpoints are never reaped.
        (_job(frozenset({"endpoint"}), OLD, None, "InProgress", False), None),
    ],
)
def test_transform_reap_rules(leftovers: JobLeftovers, expected: str | None) -> None:
    reason = reap_reason(leftovers, NOW, MAX_AGE_S)
    if expected is None:
        assert reason is None
    else:
        assert reason is not None and expected in reason


def _record(agent: dict[str, object]) -> JobRecord:
    """Make an in-progress transform record naming an agent.

    :param agent: the record's agent.
    """
    return JobRecord(job_name="j", kind="transform", created_at="2027-01-15T06:00:00Z", agent=agent)


HERE = socket.gethostname()


@pytest.mark.parametrize(
    ("agent", "expected"),
    [
        ({}, None),
        ({"pid": 123, "host": "elsewhere"}, None),
        ({"pid": 123, "host": HERE}, True),
        ({"pid": 123, "host": HERE, "pid_namespace": "ours"}, True),
        ({"pid": 123, "host": HERE, "pid_namespace": "pid:[1]"}, None),
    ],
    ids=["no-agent", "other-host", "no-namespace", "same-namespace", "other-namespace"],
)
def test_a_runner_is_judged_only_from_its_own_host_and_pid_namespace(
    agent: dict[str, object], expected: bool | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(agent_identity, "pid_namespace", lambda: "ours")
    assert agent_identity.agent_alive(_record(agent), lambda pid: True) is expected


def test_this_process_is_named_so_that_the_reaper_finds_it_alive() -> None:
    identity = agent_identity.process_identity()
    assert identity["host"] == HERE
    assert agent_identity.agent_alive(_record(identity), is_alive) is True
