"""SageMaker's JSONPath subset: what each form selects, and malformed paths refused with the parameter named."""

from __future__ import annotations

from typing import Any

import pytest

from ml_lifecycle.core.jsonpath import PathError, parse_jsonpath
from ml_lifecycle.errors import SpecError

ROW = ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"]
DOC = {"id": 7, "features": [1.0, 2.0, 3.0], "meta": {"a": 1, "b": [4, 5]}, "SageMakerOutput": {"score": 0.5}}


@pytest.mark.parametrize(
    ("path", "value", "selected"),
    [
        pytest.param("$", ROW, ROW, id="root"),
        pytest.param("", ROW, ROW, id="empty-is-root"),
        pytest.param(None, ROW, ROW, id="none-is-root"),
        pytest.param("$[1:]", ROW, ROW[1:], id="drop-first-column"),
        # The developer guide: "$[1:4] specifies the second through fifth columns" (the end is included).
        pytest.param("$[1:4]", ROW, ["c1", "c2", "c3", "c4"], id="slice-includes-its-end"),
        pytest.param("$[:5]", ROW, ROW[:6], id="slice-from-the-start-through-index-5"),
        pytest.param("$[2:]", ROW, ROW[2:], id="slice-to-the-end"),
        pytest.param("$[-3:]", ROW, ROW[-3:], id="slice-negative-start"),
        pytest.param("$[2:-2]", ROW, ["c2", "c3", "c4", "c5", "c6"], id="slice-negative-end"),
        pytest.param("$[5:100]", ROW, ROW[5:], id="slice-past-the-end-stops-there"),
        pytest.param("$[5:2]", ROW, [], id="slice-backwards-is-empty"),
        pytest.param("$[0]", ROW, "c0", id="one-index-is-the-element"),
        pytest.param("$[-1]", ROW, "c7", id="negative-index"),
        pytest.param("$[1,3,5]", ROW, ["c1", "c3", "c5"], id="several-indexes"),
        pytest.param("$[0,-1]", ROW, ["c0", "c7"], id="first-and-last"),
        pytest.param("$[0,5:]", ROW, ["c0", "c5", "c6", "c7"], id="index-and-range"),
        pytest.param("$[3, 1]", ROW, ["c3", "c1"], id="order-as-written-spaces-allowed"),
        pytest.param("$[*]", ROW, ROW, id="wildcard-on-array"),
        pytest.param("$.features", DOC, [1.0, 2.0, 3.0], id="dot-name"),
        pytest.param("$['features']", DOC, [1.0, 2.0, 3.0], id="bracket-name"),
        pytest.param('$["id"]', DOC, 7, id="double-quoted-name"),
        pytest.param("$['id','SageMakerOutput']", DOC, {"id": 7, "SageMakerOutput": {"score": 0.5}}, id="multi-name"),
        pytest.param("$.meta.['a','b']", DOC, {"a": 1, "b": [4, 5]}, id="dot-before-bracket"),
        pytest.param("$.meta.b[-1]", DOC, 5, id="nested-then-index"),
        pytest.param("$.features[1:]", DOC, [2.0, 3.0], id="nested-then-slice"),
        pytest.param("$.meta.*", DOC, [1, [4, 5]], id="wildcard-on-object"),
        pytest.param("$.SageMakerOutput.score", DOC, 0.5, id="into-the-output"),
        pytest.param("$[*].x", [{"x": 1}, {"x": 2}], [1, 2], id="wildcard-then-name"),
    ],
)
def test_selects(path: str | None, value: Any, selected: Any) -> None:
    assert parse_jsonpath(path, "input_filter").apply(value) == selected


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        pytest.param("features", "does not start with '\\$'", id="no-root"),
        pytest.param("$..id", "recursive descent", id="recursive-descent"),
        pytest.param("$[0:2,246:]", "only one range per bracket", id="two-ranges"),
        pytest.param("$['a','b.c']", "nesting inside a multi-select", id="nested-multi-select"),
        pytest.param("$['a','a']", "appears twice", id="duplicate-name"),
        pytest.param("$[1:2:3]", "slice steps", id="slice-step"),
        pytest.param("$[", "found 'the end'", id="unclosed"),
        pytest.param("$[]", "expected an index", id="empty-brackets"),
        pytest.param("$[a]", "expected an index", id="unquoted-name-in-brackets"),
        pytest.param("$.", "expected a name or '\\*'", id="dangling-dot"),
        pytest.param("$.a[?(@.b)]", "expected an index", id="filter-expression"),
        pytest.param("$['a',1]", "expected a quoted name", id="mixed-names-and-indexes"),
        pytest.param("$[0,'a']", "expected an index", id="mixed-indexes-and-names"),
        pytest.param("$[0", "expected ']'", id="missing-close"),
        pytest.param("$ features", "unexpected 'features'", id="missing-dot"),
        pytest.param("$.features" + ".x" * 27, "over SageMaker's 63", id="too-long"),
        pytest.param(42, "is not a string", id="not-a-string"),
    ],
)
@pytest.mark.parametrize("parameter", ["input_filter", "output_filter"])
def test_malformed_paths_name_the_parameter(path: Any, problem: str, parameter: str) -> None:
    with pytest.raises(SpecError, match=problem) as caught:
        parse_jsonpath(path, parameter)
    assert caught.value.parameter == parameter
    assert "$[1:]" in str(caught.value)  # the message shows what to write instead


def test_63_characters_is_the_limit() -> None:
    path = "$" + "[0]" * 20 + ".ab"
    assert len(path) == 64
    with pytest.raises(SpecError):
        parse_jsonpath(path, "input_filter")
    assert parse_jsonpath(path[:-1], "input_filter").steps[-1].name == "a"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        pytest.param("$.missing", DOC, "has no attribute 'missing'", id="missing-name"),
        pytest.param("$['id','nope']", DOC, "has no attribute 'nope'", id="missing-in-multi-select"),
        pytest.param("$[8]", ROW, "index 8 is out of range for an array of 8", id="index-past-the-end"),
        pytest.param("$[-9]", ROW, "index -9 is out of range", id="negative-past-the-start"),
        pytest.param("$[0,9:]", ROW[:3], "", id="range-past-the-end-is-empty-not-an-error"),
        pytest.param("$.id", ROW, "selects by name but the value there is an array", id="name-on-array"),
        pytest.param("$[0]", DOC, "selects by position but the value there is an object", id="index-on-object"),
        pytest.param("$.id.*", DOC, "is '\\*' but the value there is the int 7", id="wildcard-on-number"),
    ],
)
def test_paths_that_do_not_fit_the_value(path: str, value: Any, problem: str) -> None:
    compiled = parse_jsonpath(path, "output_filter")
    if not problem:
        assert compiled.apply(value) == ["c0"]
        return
    with pytest.raises(PathError, match=problem):
        compiled.apply(value)


def test_names_are_known_before_a_record_is_seen() -> None:
    assert parse_jsonpath("$['id','x']", "p").uses_names
    assert parse_jsonpath("$.features[0]", "p").uses_names
    assert not parse_jsonpath("$[0,5:]", "p").uses_names
    assert parse_jsonpath("$", "p").is_root
    assert not parse_jsonpath("$[*]", "p").is_root
