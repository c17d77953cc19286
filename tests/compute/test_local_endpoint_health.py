"""How a local endpoint is judged from its containers: restarted whenever they die, Failed once none can serve or
every one crash-loops."""

from __future__ import annotations

import pytest

from ml_lifecycle.compute.local.endpoints.health import CRASH_LOOP_DEATHS, judge
from ml_lifecycle.compute.local.serving.container_state import ContainerState

RUNNING = ContainerState("algo-1", "running")
PROXY = ContainerState("proxy", "running")


def _restarting(deaths: int, name: str = "algo-2") -> ContainerState:
    """A container the engine is restarting, that died this often within the crash-loop window."""
    return ContainerState(name, "restarting", exit_code=3, restarts=40, recent_deaths=deaths)


@pytest.mark.parametrize(
    ("servers", "status", "said"),
    [
        ([RUNNING], "InService", ""),
        # Died often over its life, rarely lately: coming back, not failed (restarts=40 does not count).
        ([_restarting(1, "algo-1")], "InService", "algo-1 is restarting"),
        ([_restarting(CRASH_LOOP_DEATHS - 1, "algo-1")], "InService", "algo-1 is restarting"),
        (
            [_restarting(CRASH_LOOP_DEATHS, "algo-1")],
            "Failed",
            f"algo-1 crash-loops: it died {CRASH_LOOP_DEATHS} times",
        ),
        ([RUNNING, _restarting(CRASH_LOOP_DEATHS)], "InService", "algo-2 is restarting"),
        ([ContainerState("algo-1", "exited", exit_code=137, oom_killed=True)], "Failed", "out-of-memory"),
        ([], "Failed", "its serving containers are gone"),
    ],
    ids=["running", "restarting", "just_below_a_loop", "crash_loop", "one_of_two_loops", "exited", "none"],
)
def test_judge(servers, status, said):
    health = judge(servers, PROXY)
    assert health.status == status
    assert said in (health.failure_reason if status == "Failed" else health.serving_problem)
