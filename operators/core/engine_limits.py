"""Fit the limits a job container asks for to what the Docker engine may give: an engine without CAP_SYS_RESOURCE
(dockerd in a container, or started with lower limits) cannot raise a container's hard limit above its own."""

from __future__ import annotations

import re
from dataclasses import replace

from ml_lifecycle.core.container_resources import UNLIMITED, Ulimit

CAP_SYS_RESOURCE = 24
# /proc/<pid>/limits rows of the limits a job asks for.
LIMIT_ROWS = {"memlock": "Max locked memory", "stack": "Max stack size", "nofile": "Max open files"}
ENGINE_LIMITS_FIX = "start dockerd with higher limits (systemd: LimitMEMLOCK=infinity, LimitNOFILE=1048576)"


def engine_hard_limits(status_text: str, limits_text: str) -> dict[str, int] | None:
    """Return the hard limits an engine process may give containers, or None when it may raise any.

    :param status_text: the engine's ``/proc/<pid>/status``.
    :param limits_text: the engine's ``/proc/<pid>/limits``.
    """
    capabilities = re.search(r"^CapEff:\s*([0-9a-fA-F]+)", status_text, re.MULTILINE)
    if capabilities and int(capabilities[1], 16) >> CAP_SYS_RESOURCE & 1:
        return None
    hard: dict[str, int] = {}
    for name, row in LIMIT_ROWS.items():
        found = re.search(rf"^{re.escape(row)}\s+(\S+)\s+(\S+)", limits_text, re.MULTILINE)
        if found:
            hard[name] = UNLIMITED if found[2] == "unlimited" else int(found[2])
    return hard


def fit_ulimits(wanted: tuple[Ulimit, ...], hard: dict[str, int] | None) -> tuple[tuple[Ulimit, ...], list[str]]:
    """Return the limits to ask for, each at most the engine's hard limit, and a note per limit lowered.

    :param wanted: the limits a job container asks for.
    :param hard: the engine's hard limits by name (UNLIMITED for none); None when it may raise any.
    """
    if hard is None:
        return wanted, []
    fitted: list[Ulimit] = []
    lowered: list[str] = []
    for limit in wanted:
        ceiling = hard.get(limit.name, UNLIMITED)
        if ceiling == UNLIMITED or (limit.hard != UNLIMITED and limit.hard <= ceiling):
            fitted.append(limit)
            continue
        soft = ceiling if limit.soft == UNLIMITED else min(limit.soft, ceiling)
        fitted.append(replace(limit, soft=soft, hard=ceiling))
        wanted_text = "unlimited" if limit.hard == UNLIMITED else str(limit.hard)
        lowered.append(f"{limit.name} {ceiling} (wanted {wanted_text})")
    return tuple(fitted), lowered
