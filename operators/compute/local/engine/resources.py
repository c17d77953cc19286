"""What the engine gives a container: its machine's size, and a container's resources as host config arguments."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from ml_lifecycle.compute.local.engine.gpus import device_requests
from ml_lifecycle.compute.local.engine.images import ENGINE_HINT
from ml_lifecycle.core.container_resources import ContainerResources
from ml_lifecycle.core.engine_limits import ENGINE_LIMITS_FIX, engine_hard_limits, fit_ulimits
from ml_lifecycle.errors import EngineError

log = logging.getLogger(__name__)

DEFAULT_SOCKET = "unix:///var/run/docker.sock"


class EngineResources:
    """The resource calls of DockerEngine (a mixin: it uses the engine's ``client``)."""

    client: Any
    _machine: tuple[int, int] | None = None
    _hard_limits: tuple[dict[str, int] | None] | None = None
    _limits_noted = False
    _limits_refused = False

    def machine(self) -> tuple[int, int]:
        """Return the memory in bytes and the CPUs of the engine's machine (asked once)."""
        if self._machine is None:
            try:
                info = self.client.info()
            except Exception as err:
                raise EngineError(f"The Docker engine did not say its machine's size: {err}. {ENGINE_HINT}") from err
            self._machine = (int(info.get("MemTotal") or 0), int(info.get("NCPU") or 1))
        return self._machine

    def host_resources(self, resources: ContainerResources | None) -> dict[str, Any]:
        """Return a container's resources as the docker SDK's host config arguments (the same for run and create).

        Limits above what the engine may give are lowered to its own, and the log says so once.

        :param resources: memory, CPUs, GPUs, /dev/shm and limits; None gives none of them.
        """
        from docker.types import Ulimit

        if resources is None:
            return {}
        if self._hard_limits is None:
            self._hard_limits = (local_engine_hard_limits(),)
        if self._limits_refused:
            return {**self._sizes(resources)}
        ulimits, lowered = fit_ulimits(resources.ulimits, self._hard_limits[0])
        if lowered and not self._limits_noted:
            self._limits_noted = True
            log.warning(
                "The Docker engine cannot raise container limits above its own: %s; %s",
                ", ".join(lowered),
                ENGINE_LIMITS_FIX,
            )
        return {"ulimits": [Ulimit(name=u.name, soft=u.soft, hard=u.hard) for u in ulimits], **self._sizes(resources)}

    def limits_refused(self, text: str) -> bool:
        """Say whether a start failed on the containers' limits (a remote engine that cannot raise them); if so, the
        limits are left to the engine from now on, and the log says so.

        :param text: the engine's explanation of the failure.
        """
        if "rlimit" not in text:
            return False
        if not self._limits_refused:  # said once, though containers started together may all be refused
            self._limits_refused = True
            log.warning(
                "The Docker engine cannot raise container limits (%s): it keeps its own; %s", text, ENGINE_LIMITS_FIX
            )
        return True

    @staticmethod
    def _sizes(resources: ContainerResources) -> dict[str, Any]:
        """Return memory, CPUs, /dev/shm and GPUs as host config arguments.

        :param resources: the container's resources.
        """
        kwargs: dict[str, Any] = {}
        if resources.memory_bytes:  # swap included, so a job over its memory is killed rather than swapped
            kwargs["mem_limit"] = resources.memory_bytes
            kwargs["memswap_limit"] = resources.memory_bytes
        if resources.cpus:
            kwargs["nano_cpus"] = int(resources.cpus * 1e9)
        if resources.shm_bytes:
            kwargs["shm_size"] = resources.shm_bytes
        if resources.gpus.wanted:
            kwargs["device_requests"] = device_requests(resources.gpus)
        return kwargs


def local_engine_hard_limits(pid_file: str = "/var/run/docker.pid") -> dict[str, int] | None:
    """Return the local dockerd's hard limits when it cannot raise them; None when it can or is not on this machine.

    :param pid_file: dockerd's pid file (the default engine's).
    """
    if os.environ.get("DOCKER_HOST", DEFAULT_SOCKET) != DEFAULT_SOCKET:
        return None  # another engine: its limits are not readable here
    try:
        pid = int(Path(pid_file).read_text().strip())
        return engine_hard_limits(Path(f"/proc/{pid}/status").read_text(), Path(f"/proc/{pid}/limits").read_text())
    except (OSError, ValueError):
        return None
