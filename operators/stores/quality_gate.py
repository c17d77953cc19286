"""The quality gate of a model version: a metric threshold and/or beating the version in service."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ml_lifecycle.errors import SpecError

_KEYS = frozenset({"metric", "max", "min", "beat_in_service", "goal", "require", "on_fail"})
_PARAMETER = "quality_gate"


@dataclass(frozen=True)
class QualityGate:
    """What a model must achieve before it is published.

    :param metric: the metric name, as the training job's metric_definitions named it.
    :param max: the largest acceptable value (lower is better), or None.
    :param min: the smallest acceptable value (higher is better), or None.
    :param beat_in_service: the model must be strictly better than the newest published version, if one exists.
    :param goal: ``minimize`` or ``maximize``: which way is better.
    :param require: ``all`` (every condition must hold) or ``any`` (one is enough).
    :param on_fail: ``fail`` (the task fails without retries) or ``skip`` (the task and what follows are skipped).
    """

    metric: str
    max: float | None = None
    min: float | None = None
    beat_in_service: bool = False
    goal: str = "minimize"
    require: str = "all"
    on_fail: str = "fail"

    @classmethod
    def parse(cls, value: Mapping[str, Any]) -> QualityGate:
        """Build a gate from the operator's ``quality_gate`` dict, with messages that say what to write.

        :param value: e.g. ``{"metric": "validation_rmse", "max": 0.5}`` or
            ``{"metric": "auc", "beat_in_service": True, "goal": "maximize"}``.
        """
        if not isinstance(value, Mapping):
            raise SpecError(
                _PARAMETER, f"{value!r} is not a dict", 'Write e.g. {"metric": "validation_rmse", "max": 0.5}'
            )
        unknown = set(value) - _KEYS
        if unknown:
            raise SpecError(_PARAMETER, f"unknown keys {sorted(unknown)}", f"Use only {sorted(_KEYS)}")
        metric = value.get("metric")
        if not isinstance(metric, str) or not metric:
            raise SpecError(_PARAMETER, "no metric is named", 'Add "metric": the name from metric_definitions')
        upper, lower = _number(value, "max"), _number(value, "min")
        beat = _flag(value.get("beat_in_service", False))
        if upper is None and lower is None and not beat:
            raise SpecError(_PARAMETER, "the gate has no condition", 'Add "max", "min" or "beat_in_service": true')
        implied = "minimize" if upper is not None else "maximize" if lower is not None else None
        goal = value.get("goal") or implied
        if goal not in ("minimize", "maximize"):
            raise SpecError(_PARAMETER, f"goal {goal!r} is unknown", 'Write "goal": "minimize" or "maximize"')
        require = _choice(value, "require", ("all", "any"))
        on_fail = _choice(value, "on_fail", ("fail", "skip"))
        return cls(metric, upper, lower, beat, goal, require, on_fail)

    def evaluate(self, metrics: Mapping[str, Any], in_service: Mapping[str, Any] | None) -> GateResult:
        """Check the new model's metrics against the gate.

        :param metrics: the new model's metrics (name -> value).
        :param in_service: the metrics of the version in service, or None when no version is published.
        """
        value = _as_float(metrics.get(self.metric))
        if value is None:
            available = ", ".join(sorted(metrics)) or "none"
            return GateResult(
                False,
                [
                    f"the model has no value for {self.metric!r} (its metrics: {available}); name a metric that "
                    "metric_definitions collects, or pass metrics= to ExportArtifacts"
                ],
            )
        checks: list[tuple[bool, str]] = []
        if self.max is not None:
            checks.append(
                (value <= self.max, f"{self.metric}={value:g} {'<=' if value <= self.max else '>'} max {self.max:g}")
            )
        if self.min is not None:
            checks.append(
                (value >= self.min, f"{self.metric}={value:g} {'>=' if value >= self.min else '<'} min {self.min:g}")
            )
        if self.beat_in_service:
            checks.append(self._beat(value, in_service))
        passed = all(ok for ok, _ in checks) if self.require == "all" else any(ok for ok, _ in checks)
        return GateResult(passed, [text for _, text in checks])

    def _beat(self, value: float, in_service: Mapping[str, Any] | None) -> tuple[bool, str]:
        """Compare with the version in service; with none published, the new model passes.

        :param value: the new model's metric value.
        :param in_service: the in-service version's metrics, or None.
        """
        if in_service is None:
            return True, "no version is in service yet"
        old = _as_float(in_service.get(self.metric))
        if old is None:
            return True, f"the version in service has no {self.metric!r} to beat"
        better = value < old if self.goal == "minimize" else value > old
        word = "beats" if better else "does not beat"
        return better, f"{self.metric}={value:g} {word} the version in service ({old:g}, goal {self.goal})"


@dataclass(frozen=True)
class GateResult:
    """The outcome of a gate.

    :param passed: whether the model may be published.
    :param reasons: one line per condition checked.
    """

    passed: bool
    reasons: list[str]

    def summary(self) -> str:
        """Return the reasons on one line."""
        return "; ".join(self.reasons)


def _number(value: Mapping[str, Any], key: str) -> float | None:
    """Read an optional threshold (numbers as strings too, as Jinja renders them).

    :param value: the gate dict.
    :param key: ``max`` or ``min``.
    """
    if value.get(key) is None:
        return None
    number = _as_float(value[key])
    if number is None:
        raise SpecError(_PARAMETER, f"{key}={value[key]!r} is not a number", f'Write "{key}": a finite number')
    return number


def _as_float(value: Any) -> float | None:
    """Return a finite float, or None when value is not one.

    :param value: anything.
    """
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _flag(value: Any) -> bool:
    """Read a boolean (``"true"``/``"false"`` too, as Jinja renders them).

    :param value: the value of ``beat_in_service``.
    """
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if isinstance(value, bool):
        return value
    raise SpecError(_PARAMETER, f"beat_in_service={value!r} is not a boolean", 'Write "beat_in_service": true or false')


def _choice(value: Mapping[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    """Read an optional choice, defaulting to the first allowed value.

    :param value: the gate dict.
    :param key: the key.
    :param allowed: the allowed values, the default first.
    """
    choice = value.get(key) or allowed[0]
    if choice not in allowed:
        raise SpecError(_PARAMETER, f"{key}={choice!r} is unknown", f'Write "{key}": one of {list(allowed)}')
    return str(choice)
