"""Hyperparameter ranges in SageMaker's ParameterRanges shape: integer, continuous (with scaling) and categorical."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ml_lifecycle.core.checks import check_choice
from ml_lifecycle.core.errors import SpecError

SCALING_TYPES = ("Auto", "Linear", "Logarithmic", "ReverseLogarithmic")
# SageMaker's limits (botocore's ParameterRanges shapes): 30 ranges in all, 30 values per categorical range.
MAX_RANGES = 30
MAX_CATEGORICAL_VALUES = 30
RANGE_KINDS = ("IntegerParameterRanges", "ContinuousParameterRanges", "CategoricalParameterRanges")


@dataclass(frozen=True)
class NumericRange:
    """An integer or continuous range, searched on a scale.

    :param name: the hyperparameter's name.
    :param min_value: the smallest value searched.
    :param max_value: the largest value searched.
    :param scaling: ``Auto`` (searched as Linear here), ``Linear``, ``Logarithmic`` (min_value > 0) or, for continuous
        ranges only, ``ReverseLogarithmic`` (0 <= min_value < max_value < 1).
    :param integer: whether only whole numbers are searched.
    """

    name: str
    min_value: float
    max_value: float
    scaling: str = "Auto"
    integer: bool = False

    def __post_init__(self) -> None:
        """Refuse what SageMaker refuses."""
        kind = "IntegerParameterRanges" if self.integer else "ContinuousParameterRanges"
        where = f"parameter_ranges.{kind}[{self.name!r}]"
        allowed = SCALING_TYPES if not self.integer else SCALING_TYPES[:3]
        check_choice(f"{where}.ScalingType", self.scaling, allowed)
        if self.min_value > self.max_value:
            raise SpecError(where, f"MinValue {self.min_value:g} is above MaxValue {self.max_value:g}", "Swap them")
        if self.scaling == "Logarithmic" and self.min_value <= 0:
            raise SpecError(where, "Logarithmic scaling needs values above 0", "Raise MinValue or use Linear")
        if self.scaling == "ReverseLogarithmic" and not 0 <= self.min_value < self.max_value < 1:
            raise SpecError(
                where,
                "ReverseLogarithmic scaling needs 0 <= MinValue < MaxValue < 1",
                "Keep the range inside [0, 1) or use Linear",
            )

    def to_dict(self) -> dict[str, Any]:
        """Return the range in SageMaker's shape (values as strings)."""
        as_text = (lambda v: str(int(v))) if self.integer else (lambda v: repr(float(v)))
        return {
            "Name": self.name,
            "MinValue": as_text(self.min_value),
            "MaxValue": as_text(self.max_value),
            "ScalingType": self.scaling,
        }


@dataclass(frozen=True)
class CategoricalRange:
    """A categorical range: the values searched, as strings.

    :param name: the hyperparameter's name.
    :param values: the values, each given once.
    """

    name: str
    values: tuple[str, ...]

    def __post_init__(self) -> None:
        """Refuse what SageMaker refuses."""
        where = f"parameter_ranges.CategoricalParameterRanges[{self.name!r}].Values"
        if not 1 <= len(self.values) <= MAX_CATEGORICAL_VALUES:
            raise SpecError(where, f"has {len(self.values)} values", f"Give 1 to {MAX_CATEGORICAL_VALUES}")
        if len(set(self.values)) != len(self.values):
            raise SpecError(where, "repeats a value", "Give each value once")

    def to_dict(self) -> dict[str, Any]:
        """Return the range in SageMaker's shape."""
        return {"Name": self.name, "Values": list(self.values)}


@dataclass(frozen=True)
class ParameterRanges:
    """Every range a tuning job searches.

    :param numeric: the integer and continuous ranges.
    :param categorical: the categorical ranges.
    """

    numeric: tuple[NumericRange, ...] = ()
    categorical: tuple[CategoricalRange, ...] = ()

    def names(self) -> list[str]:
        """Return the names of the searched hyperparameters, in the order given."""
        return [r.name for r in self.numeric] + [r.name for r in self.categorical]

    def grid_size(self) -> int:
        """Return how many combinations the categorical ranges make (Grid's number of training jobs)."""
        return math.prod(len(r.values) for r in self.categorical)

    def to_dict(self) -> dict[str, Any]:
        """Return the ranges in SageMaker's ParameterRanges shape."""
        return {
            "IntegerParameterRanges": [r.to_dict() for r in self.numeric if r.integer],
            "ContinuousParameterRanges": [r.to_dict() for r in self.numeric if not r.integer],
            "CategoricalParameterRanges": [r.to_dict() for r in self.categorical],
        }


def parse_parameter_ranges(value: Any) -> ParameterRanges:
    """Read SageMaker's ParameterRanges (``IntegerParameterRanges``, ``ContinuousParameterRanges``,
    ``CategoricalParameterRanges``); values may be strings, as SageMaker writes them, or numbers.

    :param value: the ranges, as a dict in SageMaker's shape.
    """
    if not isinstance(value, Mapping):
        raise SpecError("parameter_ranges", f"{value!r} is not a mapping", f"Pass a dict with keys {RANGE_KINDS}")
    unknown = sorted(set(value) - set(RANGE_KINDS))
    if unknown:
        fix = "Autotune is not supported: give the ranges" if "AutoParameters" in unknown else f"Use {RANGE_KINDS}"
        raise SpecError("parameter_ranges", f"has unsupported keys {unknown}", fix)
    numeric = [_numeric(item, integer=True) for item in _items(value, "IntegerParameterRanges")]
    numeric += [_numeric(item, integer=False) for item in _items(value, "ContinuousParameterRanges")]
    categorical = [_categorical(item) for item in _items(value, "CategoricalParameterRanges")]
    ranges = ParameterRanges(tuple(numeric), tuple(categorical))
    names = ranges.names()
    if not names:
        raise SpecError("parameter_ranges", "holds no range", "Give at least one range to search")
    if len(names) > MAX_RANGES:
        raise SpecError("parameter_ranges", f"holds {len(names)} ranges", f"Search at most {MAX_RANGES}")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise SpecError("parameter_ranges", f"names {repeated} more than once", "Give each hyperparameter one range")
    return ranges


def _items(value: Mapping[str, Any], kind: str) -> list[Mapping[str, Any]]:
    """Return the ranges of one kind, each checked to be a mapping with a name.

    :param value: the ParameterRanges dict.
    :param kind: the key, e.g. ``IntegerParameterRanges``.
    """
    items = value.get(kind) or []
    if not isinstance(items, list | tuple):
        raise SpecError(f"parameter_ranges.{kind}", f"{items!r} is not a list", 'Write [{"Name": ..., ...}]')
    for item in items:
        if not isinstance(item, Mapping) or not isinstance(item.get("Name"), str) or not item.get("Name"):
            raise SpecError(f"parameter_ranges.{kind}", f"{item!r} has no Name", 'Write {"Name": "lr", ...}')
    return list(items)


def _numeric(item: Mapping[str, Any], *, integer: bool) -> NumericRange:
    """Build an integer or continuous range from SageMaker's shape.

    :param item: ``{"Name", "MinValue", "MaxValue", "ScalingType"}``.
    :param integer: whether it is an IntegerParameterRange.
    """
    kind = "IntegerParameterRanges" if integer else "ContinuousParameterRanges"
    where = f"parameter_ranges.{kind}[{item['Name']!r}]"
    unknown = sorted(set(item) - {"Name", "MinValue", "MaxValue", "ScalingType"})
    if unknown:
        raise SpecError(where, f"has unsupported keys {unknown}", "Use Name, MinValue, MaxValue and ScalingType")
    bounds = [_number(item.get(key), f"{where}.{key}", integer) for key in ("MinValue", "MaxValue")]
    return NumericRange(item["Name"], bounds[0], bounds[1], item.get("ScalingType") or "Auto", integer)


def _categorical(item: Mapping[str, Any]) -> CategoricalRange:
    """Build a categorical range from SageMaker's shape.

    :param item: ``{"Name", "Values"}``.
    """
    where = f"parameter_ranges.CategoricalParameterRanges[{item['Name']!r}]"
    values = item.get("Values")
    if sorted(item) != ["Name", "Values"] or not isinstance(values, list | tuple):
        raise SpecError(where, "needs exactly Name and a list of Values", 'Write {"Name": "opt", "Values": ["a", "b"]}')
    if any(not isinstance(v, str | int | float) or isinstance(v, bool) for v in values):
        raise SpecError(f"{where}.Values", "holds a value that is not a string or number", "Write them as strings")
    return CategoricalRange(item["Name"], tuple(str(v) for v in values))


def _number(value: Any, where: str, integer: bool) -> float:
    """Parse a bound written as a number or a string, as SageMaker writes it.

    :param value: the bound.
    :param where: the field, for errors.
    :param integer: whether it must be a whole number.
    """
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or (integer and not number.is_integer()):
        kind = "a whole number" if integer else "a finite number"
        raise SpecError(where, f"{value!r} is not {kind}", f'Write {kind}, e.g. "{"10" if integer else "0.1"}"')
    return int(number) if integer else number
