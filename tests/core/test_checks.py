"""Field checks: each bad value raises SpecError naming the parameter and saying what to write."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_lifecycle.core import checks
from ml_lifecycle.errors import SpecError

PROPERTY = settings(deadline=None, max_examples=200)
DAYS_28 = 28 * 24 * 3600


# --- whole numbers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(5, 5, id="int"),
        pytest.param("7", 7, id="rendered-digits"),
        pytest.param(" 8 ", 8, id="digits-with-spaces"),
        pytest.param(3.0, 3, id="integral-float"),
        pytest.param(1, 1, id="minimum"),
        pytest.param(100, 100, id="maximum"),
    ],
)
def test_check_positive_int_accepts(value: Any, expected: int) -> None:
    result = checks.check_positive_int("n", value, 1, 100)
    assert result == expected
    assert type(result) is int


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        pytest.param(True, "True is not a whole number", id="bool"),
        pytest.param(2.5, "2.5 is not a whole number", id="fractional-float"),
        pytest.param(float("inf"), "inf is not a whole number", id="infinity"),
        pytest.param("abc", "'abc' is not a whole number", id="word"),
        pytest.param("", "'' is not a whole number", id="empty-string"),
        pytest.param("-", "'-' is not a whole number", id="lone-minus"),
        pytest.param("1e3", "'1e3' is not a whole number", id="scientific"),
        pytest.param(None, "None is not a whole number", id="none"),
        pytest.param(0, "0 is out of range", id="zero"),
        pytest.param(-1, "-1 is out of range", id="negative"),
        pytest.param("-3", "-3 is out of range", id="negative-string"),
        pytest.param(101, "101 is out of range", id="over-maximum"),
    ],
)
def test_check_positive_int_rejects(value: Any, problem: str) -> None:
    with pytest.raises(SpecError) as info:
        checks.check_positive_int("instance_count", value, 1, 100)
    assert str(info.value).startswith(f"instance_count: {problem}.")


def test_check_positive_int_out_of_range_names_the_bounds() -> None:
    with pytest.raises(SpecError, match=r"Write a whole number between 1 and 100$"):
        checks.check_positive_int("n", 0, 1, 100)
    with pytest.raises(SpecError, match=r"Write a whole number >= 2$"):
        checks.check_positive_int("n", 1, 2)


@pytest.mark.parametrize("value", [pytest.param("--5", id="double-minus"), pytest.param("\u00b2", id="superscript-2")])
def test_check_positive_int_odd_strings_raise_spec_error(value: str) -> None:
    with pytest.raises(SpecError, match=r"^instance_count: "):
        checks.check_positive_int("instance_count", value, 1, 100)


@given(st.integers(min_value=1, max_value=10_000))
@PROPERTY
def test_check_positive_int_accepts_its_own_rendering(number: int) -> None:
    assert checks.check_positive_int("n", str(number)) == number


@pytest.mark.parametrize(
    ("value", "expected"), [pytest.param(1, 1, id="one"), pytest.param("100", 100, id="hundred-as-string")]
)
def test_check_instance_count_accepts(value: Any, expected: int) -> None:
    assert checks.check_instance_count(value) == expected


@pytest.mark.parametrize("value", [0, -1, 101, "0", "two"])
def test_check_instance_count_rejects(value: Any) -> None:
    with pytest.raises(SpecError, match=r"^instance_count: "):
        checks.check_instance_count(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(1, 1, id="one-second"),
        pytest.param(DAYS_28, DAYS_28, id="28-days"),
        pytest.param("60", 60, id="string"),
    ],
)
def test_check_max_runtime_s_accepts(value: Any, expected: int) -> None:
    assert checks.check_max_runtime_s(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(0, id="zero"),
        pytest.param(-1, id="negative"),
        pytest.param(-3600, id="negative-hour"),
        pytest.param(DAYS_28 + 1, id="over-28-days"),
        pytest.param(1.5, id="fraction"),
    ],
)
def test_check_max_runtime_s_rejects(value: Any) -> None:
    with pytest.raises(SpecError, match=r"^max_runtime_s: ") as info:
        checks.check_max_runtime_s(value)
    assert info.value.parameter == "max_runtime_s"


# --- channel names -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["train", "validation.v2", "a-b_c", "X" * 64, "0"])
def test_check_channel_name_accepts(name: str) -> None:
    assert checks.check_channel_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("", id="empty"),
        pytest.param("x" * 65, id="65-chars"),
        pytest.param("tr ain", id="space"),
        pytest.param("tr/ain", id="slash"),
        pytest.param(5, id="int"),
    ],
)
def test_check_channel_name_rejects(name: Any) -> None:
    with pytest.raises(SpecError, match=re.escape(f"channels[{name!r}]: is not a valid channel name")):
        checks.check_channel_name(name)


def test_check_channel_name_rejects_trailing_newline() -> None:
    with pytest.raises(SpecError):
        checks.check_channel_name("train\n")


# --- hyperparameters -----------------------------------------------------------------------------------


def test_hyperparameters_as_strings_none_is_empty() -> None:
    assert checks.hyperparameters_as_strings(None) == {}


def test_hyperparameters_as_strings_converts_scalars() -> None:
    values = {"lr": 0.1, "epochs": 3, "shuffle": True, "optimizer": "adam", "big": 10**20}
    assert checks.hyperparameters_as_strings(values) == {
        "lr": "0.1",
        "epochs": "3",
        "shuffle": "True",
        "optimizer": "adam",
        "big": "100000000000000000000",
    }


def test_hyperparameters_as_strings_accepts_the_limits() -> None:
    values = {f"k{i}": "v" for i in range(99)} | {"k" * 256: "v" * 2500}
    assert len(checks.hyperparameters_as_strings(values)) == 100


@pytest.mark.parametrize(
    ("values", "parameter", "problem"),
    [
        pytest.param([("a", 1)], "hyperparameters", "list is not a mapping", id="not-a-mapping"),
        pytest.param({f"k{i}": 1 for i in range(101)}, "hyperparameters", "has 101 entries", id="101-entries"),
        pytest.param({"layers": [1, 2]}, "hyperparameters['layers']", "[1, 2] is a list, not a scalar", id="list"),
        pytest.param({"cfg": {"a": 1}}, "hyperparameters['cfg']", "{'a': 1} is a dict, not a scalar", id="dict"),
        pytest.param({"x": None}, "hyperparameters['x']", "None is a NoneType, not a scalar", id="none"),
        pytest.param({"": "v"}, "hyperparameters['']", "the name is empty", id="empty-name"),
        pytest.param({"k" * 257: "v"}, f"hyperparameters[{'k' * 257!r}]", "too long", id="257-char-name"),
        pytest.param({3: "v"}, "hyperparameters[3]", "not a string", id="int-name"),
        pytest.param({"v": "x" * 2501}, "hyperparameters['v']", "is 2501 characters", id="2501-char-value"),
    ],
)
def test_hyperparameters_as_strings_rejects(values: Any, parameter: str, problem: str) -> None:
    with pytest.raises(SpecError) as info:
        checks.hyperparameters_as_strings(values)
    assert info.value.parameter == parameter
    assert str(info.value).startswith(f"{parameter}: ")
    assert problem in str(info.value)


def test_hyperparameters_non_scalar_message_suggests_json() -> None:
    with pytest.raises(SpecError, match=r"json\.dumps"):
        checks.hyperparameters_as_strings({"layers": [1, 2]})


SCALARS = st.one_of(
    st.text(max_size=50),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)


@given(st.dictionaries(st.text(min_size=1, max_size=256), SCALARS, max_size=100))
@PROPERTY
def test_hyperparameters_as_strings_values_are_all_str(values: dict[str, Any]) -> None:
    result = checks.hyperparameters_as_strings(values)
    assert list(result) == list(values)
    assert all(type(v) is str for v in result.values())
    assert all(result[k] == v for k, v in values.items() if isinstance(v, str))


# --- environment ---------------------------------------------------------------------------------------


def test_check_environment_converts_values() -> None:
    assert checks.check_environment({"FOO": 1, "_bar9": "x", "FLAG": False}) == {
        "FOO": "1",
        "_bar9": "x",
        "FLAG": "False",
    }
    assert checks.check_environment(None) == {}


@pytest.mark.parametrize(
    ("values", "parameter", "problem"),
    [
        pytest.param({"1BAD": "x"}, "environment['1BAD']", "is not a valid variable name", id="leading-digit"),
        pytest.param({"BAD-NAME": "x"}, "environment['BAD-NAME']", "is not a valid variable name", id="hyphen"),
        pytest.param({"A B": "x"}, "environment['A B']", "is not a valid variable name", id="space"),
        pytest.param({"": "x"}, "environment['']", "is not a valid variable name", id="empty"),
        pytest.param({"X" * 513: "x"}, f"environment[{'X' * 513!r}]", "not a valid variable name", id="513-char-name"),
        pytest.param({"FOO": None}, "environment['FOO']", "None is not a scalar", id="none-value"),
        pytest.param({"FOO": [1]}, "environment['FOO']", "[1] is not a scalar", id="list-value"),
        pytest.param({"FOO": "x" * 513}, "environment['FOO']", "is 513 characters", id="513-char-value"),
        pytest.param({f"K{i}": "v" for i in range(101)}, "environment", "has 101 entries", id="101-entries"),
        pytest.param(["FOO=1"], "environment", "list is not a mapping", id="not-a-mapping"),
    ],
)
def test_check_environment_rejects(values: Any, parameter: str, problem: str) -> None:
    with pytest.raises(SpecError) as info:
        checks.check_environment(values)
    assert info.value.parameter == parameter
    assert problem in str(info.value)


def test_check_environment_bad_name_says_the_pattern() -> None:
    with pytest.raises(SpecError, match=re.escape("Use [a-zA-Z_][a-zA-Z0-9_]*")):
        checks.check_environment({"1BAD": "x"})


def test_check_environment_uses_the_given_parameter_name() -> None:
    with pytest.raises(SpecError, match=re.escape("model_environment['1BAD']: ")):
        checks.check_environment({"1BAD": "x"}, "model_environment")


def test_check_environment_rejects_trailing_newline_in_name() -> None:
    with pytest.raises(SpecError):
        checks.check_environment({"FOO\n": "x"})


@given(st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,30}", fullmatch=True), st.integers())
@PROPERTY
def test_check_environment_accepts_every_valid_name(name: str, value: int) -> None:
    assert checks.check_environment({name: value}) == {name: str(value)}


# --- metric definitions --------------------------------------------------------------------------------


def test_check_metric_definitions_returns_pairs() -> None:
    values = [{"Name": "rmse", "Regex": "rmse=([0-9.]+)"}, {"Name": "train:loss", "Regex": r"loss: (\S+)"}]
    assert checks.check_metric_definitions(values) == (("rmse", "rmse=([0-9.]+)"), ("train:loss", r"loss: (\S+)"))
    assert checks.check_metric_definitions(tuple(values)) == checks.check_metric_definitions(values)
    assert checks.check_metric_definitions(None) == ()


def test_check_metric_definitions_accepts_40() -> None:
    values = [{"Name": f"m{i}", "Regex": f"m{i}=(\\d+)"} for i in range(40)]
    assert len(checks.check_metric_definitions(values)) == 40


GOOD = {"Name": "rmse", "Regex": "rmse=([0-9.]+)"}


@pytest.mark.parametrize(
    ("values", "parameter", "problem"),
    [
        pytest.param({"Name": "rmse"}, "metric_definitions", "is not a list", id="dict-not-list"),
        pytest.param([GOOD] * 41, "metric_definitions", "has 41 entries", id="41-entries"),
        pytest.param(["rmse"], "metric_definitions[0]", "is not a definition", id="string-item"),
        pytest.param([{"Name": "rmse"}], "metric_definitions[0]", "is not a definition", id="missing-regex"),
        pytest.param([{**GOOD, "Extra": 1}], "metric_definitions[0]", "is not a definition", id="extra-key"),
        pytest.param([{"Name": "", "Regex": "(x)"}], "metric_definitions[0]", "Name must be 1-255", id="empty-name"),
        pytest.param(
            [{"Name": "n" * 256, "Regex": "(x)"}], "metric_definitions[0]", "Name must be 1-255", id="256-name"
        ),
        pytest.param([{"Name": "m", "Regex": ""}], "metric_definitions[0]", "Regex must be 1-500", id="empty-regex"),
        pytest.param(
            [{"Name": "m", "Regex": "(" + "x" * 499 + ")"}],
            "metric_definitions[0]",
            "Regex must be 1-500",
            id="501-regex",
        ),
        pytest.param([{"Name": "m", "Regex": "m=([0-9"}], "metric_definitions[0]", "does not compile", id="bad-regex"),
        pytest.param(
            [GOOD, {"Name": "acc", "Regex": "acc=[0-9.]+"}],
            "metric_definitions[1]",
            "has no capturing group",
            id="no-group-second-item",
        ),
        pytest.param(
            [{"Name": "acc", "Regex": "acc=(?:[0-9.]+)"}],
            "metric_definitions[0]",
            "has no capturing group",
            id="only-non-capturing-group",
        ),
    ],
)
def test_check_metric_definitions_rejects(values: Any, parameter: str, problem: str) -> None:
    with pytest.raises(SpecError) as info:
        checks.check_metric_definitions(values)
    assert info.value.parameter == parameter
    assert problem in str(info.value)


def test_metric_regex_without_group_suggests_a_capture() -> None:
    with pytest.raises(SpecError, match=re.escape("Capture the value, e.g. rmse=([0-9.]+)")):
        checks.check_metric_definitions([{"Name": "rmse", "Regex": "rmse=[0-9.]+"}])


# --- endpoint names ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "my-endpoint", "a--b", "Ep1", "x" * 63])
def test_check_endpoint_name_accepts(name: str) -> None:
    assert checks.check_endpoint_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("", id="empty"),
        pytest.param("-a", id="leading-hyphen"),
        pytest.param("a-", id="trailing-hyphen"),
        pytest.param("a_b", id="underscore"),
        pytest.param("a.b", id="dot"),
        pytest.param("x" * 64, id="64-chars"),
        pytest.param(None, id="none"),
    ],
)
def test_check_endpoint_name_rejects(name: Any) -> None:
    with pytest.raises(SpecError, match=re.escape(f"endpoint_name: {name!r} is not a valid endpoint name")):
        checks.check_endpoint_name(name)


def test_check_endpoint_name_rejects_long_hyphenated_name() -> None:
    with pytest.raises(SpecError):
        checks.check_endpoint_name("a" + "-" * 70 + "b")


# --- choices and check_now -----------------------------------------------------------------------------


def test_check_choice() -> None:
    assert checks.check_choice("split_type", "Line", ("None", "Line")) == "Line"
    with pytest.raises(SpecError) as info:
        checks.check_choice("split_type", "RecordIO", ("None", "Line"))
    assert str(info.value) == "split_type: 'RecordIO' is not allowed. Write one of 'None', 'Line'"


def test_check_now_runs_checks_on_final_values() -> None:
    with pytest.raises(SpecError, match=r"^instance_count: "):
        checks.check_now({"instance_count": (0, checks.check_instance_count)})


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("{{ params.count }}", id="jinja"),
        pytest.param(None, id="none"),
        pytest.param(["{{ x }}"], id="list-with-jinja"),
    ],
)
def test_check_now_skips_templates_and_none(value: Any) -> None:
    checks.check_now(
        {"instance_count": (value, checks.check_instance_count), "endpoint_name": ("ok", checks.check_endpoint_name)}
    )


def test_check_now_checks_every_entry() -> None:
    with pytest.raises(SpecError, match=r"^endpoint_name: "):
        checks.check_now(
            {"instance_count": (2, checks.check_instance_count), "endpoint_name": ("no_", checks.check_endpoint_name)}
        )
