"""Run SageMaker metric definitions over log lines: the final value and the whole series of each metric."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence


class MetricScanner:
    """Collect metric values from log lines as SageMaker does (the first capturing group of each regex)."""

    def __init__(self, definitions: Sequence[tuple[str, str]]) -> None:
        """Compile the definitions.

        :param definitions: (name, regex) pairs, each regex with at least one capturing group.
        """
        self._patterns = [(name, re.compile(regex)) for name, regex in definitions]
        self.series: dict[str, list[list[float]]] = {name: [] for name, _ in definitions}

    def scan(self, line: str, elapsed_s: float) -> None:
        """Record every metric value found in one log line.

        :param line: one line of container output.
        :param elapsed_s: seconds since the job started, kept with each value.
        """
        for name, pattern in self._patterns:
            for match in pattern.finditer(line):
                value = _to_float(match.group(1))
                if value is not None:
                    self.series[name].append([round(elapsed_s, 3), value])

    def final(self) -> dict[str, float]:
        """Return the last value of every metric that was seen."""
        return {name: points[-1][1] for name, points in self.series.items() if points}


def _to_float(text: str | None) -> float | None:
    """Parse a captured value, or None when it is not a finite number.

    :param text: the captured text.
    """
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None
