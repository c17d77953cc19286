"""The steps of a JSONPath in SageMaker's subset, and what each selects from a JSON value (or a CSV row as a list).

A selection keeps the shape it names: ``.name``, ``['name']`` and ``[i]`` give the value itself, ``['a','b']`` an
object with those keys, and ``[i,j]``, ``[s:e]`` and ``*`` an array. A slice includes its end (``[1:4]`` is the
second through fifth elements, as SageMaker's developer guide states). Missing attributes and out-of-range indexes
are errors; a slice past the end stops at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class PathError(ValueError):
    """A path does not fit the value it is applied to (a missing attribute, an index out of range, ...)."""


@dataclass(frozen=True)
class Name:
    """``.name`` or ``['name']``: the attribute's value."""

    name: str


@dataclass(frozen=True)
class Names:
    """``['a','b']``: an object holding those attributes."""

    names: tuple[str, ...]


@dataclass(frozen=True)
class Index:
    """``[i]``: the element itself."""

    index: int


@dataclass(frozen=True)
class Slice:
    """``[s:e]``: elements s through e, both included; None means the first or the last."""

    start: int | None
    end: int | None


@dataclass(frozen=True)
class Elements:
    """``[i,j]``, ``[s:e]`` or ``[0,5:]``: an array of the chosen elements."""

    items: tuple[int | Slice, ...]


@dataclass(frozen=True)
class Wildcard:
    """``*``: an array of every element or attribute value."""


Step = Name | Names | Index | Elements | Wildcard


def select(value: Any, steps: tuple[Step, ...], at: int, text: str) -> Any:
    """Apply steps[at:] to value; raises PathError when they do not fit it.

    :param value: the current value.
    :param steps: all steps.
    :param at: the first step to apply.
    :param text: the path, for errors.
    """
    if at == len(steps):
        return value
    step = steps[at]
    if isinstance(step, Name | Names):
        if not isinstance(value, dict):
            raise PathError(f"{text}: step {at + 1} selects by name but the value there is {_kind(value)}")
        names = (step.name,) if isinstance(step, Name) else step.names
        missing = [name for name in names if name not in value]
        if missing:
            raise PathError(f"{text}: the object there has no attribute {missing[0]!r}")
        if isinstance(step, Name):
            return select(value[step.name], steps, at + 1, text)
        return {name: select(value[name], steps, at + 1, text) for name in names}
    if isinstance(step, Wildcard):
        if isinstance(value, dict):
            return [select(item, steps, at + 1, text) for item in value.values()]
        if isinstance(value, list):
            return [select(item, steps, at + 1, text) for item in value]
        raise PathError(f"{text}: step {at + 1} is '*' but the value there is {_kind(value)}")
    if not isinstance(value, list):
        raise PathError(f"{text}: step {at + 1} selects by position but the value there is {_kind(value)}")
    if isinstance(step, Index):
        return select(value[_position(step.index, len(value), text)], steps, at + 1, text)
    return [select(value[i], steps, at + 1, text) for i in _positions(step.items, len(value), text)]


def _position(index: int, length: int, text: str) -> int:
    """Resolve one index (negative counts from the end) or fail when it is out of range.

    :param index: the index as written.
    :param length: the array's length.
    :param text: the path, for errors.
    """
    resolved = index + length if index < 0 else index
    if not 0 <= resolved < length:
        raise PathError(f"{text}: index {index} is out of range for an array of {length}")
    return resolved


def _positions(items: tuple[int | Slice, ...], length: int, text: str) -> list[int]:
    """Resolve indexes and an inclusive range to positions, in the order written.

    :param items: the indexes and slices.
    :param length: the array's length.
    :param text: the path, for errors.
    """
    positions: list[int] = []
    for item in items:
        if isinstance(item, int):
            positions.append(_position(item, length, text))
            continue
        start = 0 if item.start is None else item.start + length if item.start < 0 else item.start
        end = length - 1 if item.end is None else item.end + length if item.end < 0 else item.end
        positions.extend(range(max(start, 0), min(end, length - 1) + 1))
    return positions


def _kind(value: Any) -> str:
    """Name a JSON value's type for error messages.

    :param value: the value.
    """
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return f"the {type(value).__name__} {value!r}"[:80]
