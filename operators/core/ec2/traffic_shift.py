"""How a blue/green endpoint update moves traffic to the new revision: all at once, canary or linear steps."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ml_lifecycle.core import checks
from ml_lifecycle.core.checks import check_error_rate as check_error_rate  # defined there for DAG parse time
from ml_lifecycle.core.errors import SpecError

ALL_AT_ONCE = "all_at_once"
CANARY = "canary"
LINEAR = "linear"
SHIFT_KEYS = {ALL_AT_ONCE: (), CANARY: ("canary_percent", "wait_s"), LINEAR: ("step_percent", "wait_s")}
MAX_WAIT_S = 3600 * 24
EXAMPLE = '{"type": "canary", "canary_percent": 10, "wait_s": 300}'


@dataclass(frozen=True)
class ShiftStep:
    """One step of a traffic shift: send green_percent of the requests to the new revision, then watch for wait_s.

    :param green_percent: the new revision's share of requests, 1-100.
    :param wait_s: seconds to watch its health and error rate before the next step (0 for the last step).
    """

    green_percent: int
    wait_s: int


@dataclass(frozen=True)
class TrafficShift:
    """A traffic shift policy, validated when built (SageMaker's deployment config, as weighted target groups).

    :param type: ``all_at_once``, ``canary`` or ``linear``.
    :param percent: the canary's share, or each linear step's share, 1-99 (0 for all_at_once).
    :param wait_s: seconds to watch after each partial step, 0-86400.
    """

    type: str = ALL_AT_ONCE
    percent: int = 0
    wait_s: int = 0

    @classmethod
    def build(cls, value: Mapping[str, Any] | None) -> TrafficShift:
        """Build a policy from the operator's ``traffic_shift`` dict; None is all at once.

        :param value: ``{"type": "all_at_once"}``, ``{"type": "canary", "canary_percent": 10, "wait_s": 300}`` or
            ``{"type": "linear", "step_percent": 20, "wait_s": 60}``.
        """
        if value is None:
            return cls()
        if not isinstance(value, Mapping):
            raise SpecError("traffic_shift", f"{type(value).__name__} is not a mapping", f"Write e.g. {EXAMPLE}")
        kind = value.get("type")
        if kind not in SHIFT_KEYS:
            raise SpecError("traffic_shift", f"type {kind!r} is unknown", f"Write one of {', '.join(SHIFT_KEYS)}")
        allowed = ("type", *SHIFT_KEYS[kind])
        extra = sorted(str(key) for key in value if key not in allowed)
        missing = [key for key in allowed if key not in value]
        if extra or missing:
            problem = f"has unknown keys {extra}" if extra else f"lacks {missing}"
            raise SpecError("traffic_shift", f"{problem} for type {kind!r}", f"Give exactly {', '.join(allowed)}")
        if kind == ALL_AT_ONCE:
            return cls()
        percent_key = SHIFT_KEYS[kind][0]
        percent = checks.check_positive_int(f"traffic_shift.{percent_key}", value[percent_key], 1, 99)
        wait_s = checks.check_positive_int("traffic_shift.wait_s", value["wait_s"], 0, MAX_WAIT_S)
        return cls(str(kind), percent, wait_s)

    def steps(self) -> list[ShiftStep]:
        """Return the weights in order; the last step always sends every request to the new revision."""
        if self.type == CANARY:
            return [ShiftStep(self.percent, self.wait_s), ShiftStep(100, 0)]
        if self.type == LINEAR:
            shares = list(range(self.percent, 100, self.percent))
            return [ShiftStep(share, self.wait_s) for share in shares] + [ShiftStep(100, 0)]
        return [ShiftStep(100, 0)]

    def to_dict(self) -> dict[str, Any]:
        """Return the policy as the operator's dict (build reverses it)."""
        if self.type == ALL_AT_ONCE:
            return {"type": ALL_AT_ONCE}
        return {"type": self.type, SHIFT_KEYS[self.type][0]: self.percent, "wait_s": self.wait_s}
