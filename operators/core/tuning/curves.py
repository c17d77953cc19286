"""A trial's learning curve as early stopping reads it: the objective metric's values, one step per value."""

from __future__ import annotations

from collections.abc import Sequence


def curve_of(series: Sequence[Sequence[float]], *, running_average: bool) -> list[float]:
    """Return the values a pruner compares, step by step (step i is the i-th value the trial reported).

    SageMaker's automatic early stopping compares a trial's running average of the objective metric with the other
    trials' at the same step; Hyperband compares the values themselves.

    :param series: the metric's points, [seconds since start, value], in the order reported.
    :param running_average: return the running average at each step instead of the values.
    """
    values = [float(point[1]) for point in series]
    if not running_average:
        return values
    total = 0.0
    averages = []
    for step, value in enumerate(values, start=1):
        total += value
        averages.append(total / step)
    return averages
