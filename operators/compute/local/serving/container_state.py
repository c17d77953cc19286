"""How a serving container is doing, in the engine's own words: running, restarting, or dead and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine

LOG_LINES = 10


@dataclass(frozen=True)
class ContainerState:
    """One container as the engine sees it now.

    :param name: the container's name.
    :param status: the engine's status: ``running``, ``restarting``, ``exited``, ``dead``, ``created``, ``gone``.
    :param exit_code: its last exit code (0 while it never exited).
    :param oom_killed: whether the out-of-memory killer ended it.
    :param restarts: how many times the engine restarted it.
    :param last_lines: the last lines of its output.
    :param recent_deaths: how many times it died within the window its reader looked at (health.CRASH_LOOP_WINDOW_S).
    """

    name: str
    status: str
    exit_code: int = 0
    oom_killed: bool = False
    restarts: int = 0
    last_lines: str = ""
    recent_deaths: int = 0

    @property
    def is_running(self) -> bool:
        """Say whether it runs now."""
        return self.status == "running"

    def describe(self) -> str:
        """Say what happened to it, for a status line or an error message."""
        if self.is_running:
            return f"{self.name} runs"
        if self.status == "gone":
            return f"{self.name} is gone (something removed it)"
        text = f"{self.name} is {self.status}"
        if self.exit_code or self.oom_killed:
            text += f": exit code {self.exit_code}" + (
                ", killed by the out-of-memory killer" if self.oom_killed else ""
            )
        if self.restarts:
            text += f" (restarted {self.restarts} time{'s' if self.restarts > 1 else ''})"
        if self.last_lines:
            text += f"; its last lines:\n{self.last_lines}"
        return text


def container_state(engine: DockerEngine, container: Any) -> ContainerState:
    """Ask the engine how a container is doing now.

    :param engine: the Docker engine.
    :param container: the docker SDK container.
    """
    try:
        container.reload()
    except Exception:
        return ContainerState(container.name, "gone")
    state = container.attrs.get("State") or {}
    status = str(state.get("Status") or container.status)
    running = status == "running"
    return ContainerState(
        name=container.name,
        status=status,
        exit_code=0 if running else int(state.get("ExitCode") or 0),
        oom_killed=bool(state.get("OOMKilled")),
        restarts=int(container.attrs.get("RestartCount") or 0),
        last_lines="" if running else engine.log_tail(container, LOG_LINES),
    )
