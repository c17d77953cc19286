"""SageMaker's JSONPath subset for DataProcessing: parse once (a bad path is a SpecError), then select per record.

Supported, as the developer guide lists them: ``$``, ``.name``, ``*`` (``.*`` or ``[*]``), ``['a','b']``, ``[i,j]``
(negative indexes count from the end) and ``[s:e]``, alone or mixed with indexes (``$[0,5:]``). Like SageMaker:

- a slice includes its end: ``$[1:4]`` is the second through fifth columns, ``$[:5]`` the first six, ``$[2:]`` all
  from the third (developer guide, batch-transform-data-processing: "include all of the elements between two
  values, inclusive");
- a bracket holds at most one range (SageMaker refuses ``$[0:2,246:]``), and names in a multi-select hold no
  nesting (``['a','b.c']`` is refused);
- a selection keeps the shape it names: ``.name``, ``['name']`` and ``[i]`` give the value itself, ``['a','b']``
  an object with those keys, and ``[i,j]``, ``[s:e]`` and ``*`` an array.

Missing attributes and out-of-range indexes are errors (SageMaker fails such records); a slice past the end stops
at the end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.jsonpath_steps import (
    Elements,
    Index,
    Name,
    Names,
    PathError,
    Slice,
    Step,
    Wildcard,
    select,
)

__all__ = ["JsonPath", "PathError", "parse_jsonpath"]

MAX_PATH_CHARS = 63
_TOKEN = re.compile(
    r"""\s*(?:(?P<string>'[^']*'|"[^"]*")|(?P<int>-?\d+)|(?P<op>\.\.|[$.\[\],:*])|(?P<name>[^\s.\[\]'",:*$]+))"""
)
_FIX = "Use SageMaker's subset: $, .name, *, ['a','b'], [i,j] (negative allowed), [s:e], e.g. '$[1:]' or '$.features'"


@dataclass(frozen=True)
class JsonPath:
    """A parsed path.

    :param text: the path as written.
    :param steps: its steps after ``$``.
    """

    text: str
    steps: tuple[Step, ...]

    @property
    def is_root(self) -> bool:
        """Whether the path is ``$`` (selects everything, so applying it can be skipped)."""
        return not self.steps

    @property
    def uses_names(self) -> bool:
        """Whether any step selects by attribute name (impossible on CSV rows, which are arrays)."""
        return any(isinstance(step, Name | Names) for step in self.steps)

    def apply(self, value: Any) -> Any:
        """Select from a parsed JSON value (or a CSV row as a list); raises PathError when it does not fit.

        :param value: the value.
        """
        return select(value, self.steps, 0, self.text)


def parse_jsonpath(text: Any, parameter: str) -> JsonPath:
    """Parse a path; None or an empty string mean ``$``.

    :param text: the path, e.g. ``$[1:]``.
    :param parameter: the parameter named in errors, e.g. ``input_filter``.
    """
    if text is None or text == "":
        return JsonPath("$", ())
    if not isinstance(text, str):
        raise SpecError(parameter, f"{text!r} is not a string", _FIX)
    if len(text) > MAX_PATH_CHARS:
        raise SpecError(parameter, f"{text!r} is {len(text)} characters, over SageMaker's {MAX_PATH_CHARS}", _FIX)
    tokens = _tokenize(text, parameter)
    if not tokens or tokens[0] != ("op", "$"):
        raise SpecError(parameter, f"{text!r} does not start with '$'", _FIX)
    return JsonPath(text, _Parser(text, parameter, tokens[1:]).steps())


def _tokenize(text: str, parameter: str) -> list[tuple[str, str]]:
    """Cut a path into (kind, text) tokens.

    :param text: the path.
    :param parameter: the parameter named in errors.
    """
    tokens = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise SpecError(parameter, f"{text!r} has an unexpected character at position {position}", _FIX)
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    """A recursive-descent parser over the tokens after ``$``."""

    def __init__(self, text: str, parameter: str, tokens: list[tuple[str, str]]) -> None:
        """Hold the tokens.

        :param text: the path, for errors.
        :param parameter: the parameter named in errors.
        :param tokens: the tokens after ``$``.
        """
        self.text = text
        self.parameter = parameter
        self.tokens = tokens
        self.at = 0

    def fail(self, problem: str) -> SpecError:
        """Build the error for this path.

        :param problem: what is wrong.
        """
        return SpecError(self.parameter, f"{self.text!r}: {problem}", _FIX)

    def peek(self) -> tuple[str, str]:
        """Return the next token, or ("end", "") after the last."""
        return self.tokens[self.at] if self.at < len(self.tokens) else ("end", "")

    def take(self) -> tuple[str, str]:
        """Consume and return the next token."""
        token = self.peek()
        self.at += 1
        return token

    def expect(self, op: str) -> None:
        """Consume an operator token or fail.

        :param op: the operator, e.g. ``]``.
        """
        kind, value = self.take()
        if (kind, value) != ("op", op):
            raise self.fail(f"expected {op!r} but found {value or 'the end'!r}")

    def steps(self) -> tuple[Step, ...]:
        """Parse every step."""
        steps: list[Step] = []
        while self.peek()[0] != "end":
            kind, value = self.take()
            if value == "..":
                raise self.fail("recursive descent '..' is not in SageMaker's subset")
            if value == "." and kind == "op":
                after_kind, after = self.peek()
                if after == "[":
                    continue  # '$.field.['a','b']' is written in the developer guide; the dot is redundant
                self.take()
                if after == "*":
                    steps.append(Wildcard())
                elif after_kind == "name":
                    steps.append(Name(after))
                else:
                    raise self.fail(f"expected a name or '*' after '.', found {after or 'the end'!r}")
            elif value == "[" and kind == "op":
                steps.append(self.bracket())
            else:
                raise self.fail(f"unexpected {value!r}; steps start with '.' or '['")
        return tuple(steps)

    def bracket(self) -> Step:
        """Parse the inside of ``[...]`` and the closing bracket."""
        kind, value = self.peek()
        if value == "*" and kind == "op":
            self.take()
            self.expect("]")
            return Wildcard()
        if kind == "string":
            return self.names()
        return self.elements()

    def names(self) -> Step:
        """Parse ``'a'`` or ``'a','b'`` up to the closing bracket."""
        names = []
        while True:
            kind, value = self.take()
            if kind != "string":
                raise self.fail(f"expected a quoted name, found {value or 'the end'!r}")
            names.append(value[1:-1])
            if self.peek() != ("op", ","):
                break
            self.take()
        self.expect("]")
        if len(names) == 1:
            return Name(names[0])
        nested = [n for n in names if any(c in n for c in ".[]")]
        if nested:
            raise self.fail(f"nesting inside a multi-select is not supported ({nested[0]!r})")
        if len(set(names)) != len(names):
            raise self.fail("a name appears twice in one multi-select")
        return Names(tuple(names))

    def elements(self) -> Step:
        """Parse indexes and at most one range, e.g. ``0``, ``1,3,-1``, ``2:5``, ``0,5:``, up to the bracket."""
        items: list[int | Slice] = []
        while True:
            start = self.integer()
            if self.peek() == ("op", ":"):
                self.take()
                items.append(Slice(start, self.integer()))
                if self.peek() == ("op", ":"):
                    raise self.fail("slice steps ([s:e:step]) are not supported")
            elif start is None:
                raise self.fail(f"expected an index, a range or a quoted name, found {self.peek()[1] or 'the end'!r}")
            else:
                items.append(start)
            if self.peek() != ("op", ","):
                break
            self.take()
        self.expect("]")
        if sum(isinstance(item, Slice) for item in items) > 1:
            raise self.fail("only one range per bracket is supported (SageMaker refuses e.g. [0:2,246:])")
        if len(items) == 1 and isinstance(items[0], int):
            return Index(items[0])
        return Elements(tuple(items))

    def integer(self) -> int | None:
        """Consume an integer token if one is next and return it, else None."""
        kind, value = self.peek()
        if kind != "int":
            return None
        self.take()
        return int(value)
