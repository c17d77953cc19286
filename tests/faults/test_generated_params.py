"""Generated run configurations for retrain_and_deploy: the trigger form's Params accept exactly the valid ones.

"Valid" is what the DAG's tasks accept once the values are rendered into them (the training task's checks, the
endpoint name check), narrowed by the form's own limits (at most 10 instances, the listed instance types). A rule
between two fields (l2_min at most l2_max) is the preflight task's, not the form's: Params validate one field each.
Validation goes through Airflow's own merge of DAG params and DagRun.conf (process_params), as a triggered run does.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from ml_lifecycle.core.checks import check_endpoint_name, hyperparameters_as_strings
from ml_lifecycle.errors import SpecError

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
MAX_FORM_INSTANCES = 10
MAX_FORM_TRIALS = 50
MAX_FORM_PARALLEL_TRIALS = 10
ENDPOINT_PATTERN = r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"


@pytest.fixture(scope="module")
def retrain_dag():
    """retrain_and_deploy, parsed the way the DAG processor does."""
    from airflow.dag_processing.dagbag import DagBag

    dagbag = DagBag(dag_folder=str(DAGS_FOLDER))
    assert "retrain_and_deploy" in dagbag.dags, dagbag.import_errors
    return dagbag.dags["retrain_and_deploy"]


def _form_accepts(dag: Any, conf: dict[str, Any]) -> bool:
    """Merge conf into the DAG's params and validate them, as Airflow does for a triggered run.

    :param dag: the DAG.
    :param conf: the DagRun.conf.
    """
    from airflow.sdk.definitions.param import process_params
    from airflow.sdk.exceptions import ParamValidationError

    try:
        process_params(dag, dag.get_task("train"), copy.deepcopy(conf), suppress_exception=False)
    except ParamValidationError:
        return False
    return True


def _is_number(value: Any) -> bool:
    """Say whether a JSON value is a number (booleans are not).

    :param value: the value.
    """
    return isinstance(value, int | float) and not isinstance(value, bool)


def _whole_in(value: Any, low: int, high: int) -> bool:
    """Say whether a JSON value is a whole number (3 or 3.0) from low to high.

    :param value: the value.
    :param low: the smallest allowed.
    :param high: the largest allowed.
    """
    return _is_number(value) and math.isfinite(value) and value == int(value) and low <= value <= high


def _passes(check: Any, value: Any) -> bool:
    """Say whether one of our checks accepts a value.

    :param check: the check function.
    :param value: the value.
    """
    try:
        check(value)
    except SpecError:
        return False
    return True


def _valid(conf: dict[str, Any], instance_types: list[str]) -> bool:
    """The oracle: whether the run's tasks would accept this conf, within the form's limits.

    :param conf: the DagRun.conf.
    :param instance_types: the instance types the form offers.
    """
    rules = {
        "compute": lambda v: v in ("local", "ec2"),
        "instance_type": lambda v: v in instance_types,
        "instance_count": lambda v: _whole_in(v, 1, MAX_FORM_INSTANCES),
        "hyperparameters": lambda v: isinstance(v, dict) and _passes(hyperparameters_as_strings, v),
        "deploy": lambda v: isinstance(v, bool),
        "beat_in_service": lambda v: isinstance(v, bool),
        "quality_threshold": lambda v: _is_number(v) and v >= 0,
        "endpoint_name": lambda v: _passes(check_endpoint_name, v),
        "registry": lambda v: isinstance(v, str),
        "train_data_uri": lambda v: isinstance(v, str),
        "validation_data_uri": lambda v: isinstance(v, str),
        "score_data_uri": lambda v: isinstance(v, str),
        "process_raw_data": lambda v: isinstance(v, bool),
        "raw_data_uri": lambda v: isinstance(v, str),
        "validation_fraction": lambda v: _is_number(v) and 0 < v < 1,
        "tune": lambda v: isinstance(v, bool),
        "l2_min": lambda v: _is_number(v) and v > 0,
        "l2_max": lambda v: _is_number(v) and v > 0,
        "max_trials": lambda v: _whole_in(v, 1, MAX_FORM_TRIALS),
        "max_parallel_trials": lambda v: _whole_in(v, 1, MAX_FORM_PARALLEL_TRIALS),
    }
    return all(rules[k](v) for k, v in conf.items() if k in rules)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
NOT_STRINGS = JSON.filter(lambda v: not isinstance(v, str))
NUMBERS = st.one_of(st.integers(), st.floats(allow_nan=False), st.integers(-3, 20).map(float))
GOOD_HYPERPARAMETERS = st.dictionaries(
    st.text(min_size=1, max_size=20),
    st.one_of(st.text(max_size=30), st.integers(), st.floats(allow_nan=False), st.booleans()),
    max_size=6,
)
POSITIVE_NUMBERS = st.one_of(st.integers(1), st.floats(0, exclude_min=True, allow_nan=False, allow_infinity=False))
BAD_ENDPOINT_NAMES = st.one_of(st.text(max_size=70), JSON).filter(lambda v: not _passes(check_endpoint_name, v))


def _whole_numbers(low: int, high: int) -> st.SearchStrategy[Any]:
    """Whole numbers from low to high, as integers and as floats (JSON Schema's integer takes 3.0).

    :param low: the smallest.
    :param high: the largest.
    """
    return st.integers(low, high).flatmap(lambda n: st.sampled_from([n, float(n)]))


def _good_values(instance_types: list[str]) -> dict[str, st.SearchStrategy[Any]]:
    """Values the form and the tasks accept, for every field of the form.

    :param instance_types: the instance types the form offers.
    """
    return {
        "compute": st.sampled_from(["local", "ec2"]),
        "instance_type": st.sampled_from(instance_types),
        "instance_count": _whole_numbers(1, MAX_FORM_INSTANCES),
        "hyperparameters": GOOD_HYPERPARAMETERS,
        "deploy": st.booleans(),
        "beat_in_service": st.booleans(),
        "quality_threshold": st.one_of(st.integers(0), st.floats(0, allow_nan=False)),
        "endpoint_name": st.from_regex(r"[a-zA-Z0-9](-?[a-zA-Z0-9]){0,30}", fullmatch=True),
        "registry": st.text(max_size=20),
        "train_data_uri": st.text(max_size=20),
        "validation_data_uri": st.text(max_size=20),
        "score_data_uri": st.text(max_size=20),
        "process_raw_data": st.booleans(),
        "raw_data_uri": st.text(max_size=20),
        "validation_fraction": st.floats(0, 1, exclude_min=True, exclude_max=True),
        "tune": st.booleans(),
        "l2_min": POSITIVE_NUMBERS,
        "l2_max": POSITIVE_NUMBERS,
        "max_trials": _whole_numbers(1, MAX_FORM_TRIALS),
        "max_parallel_trials": _whole_numbers(1, MAX_FORM_PARALLEL_TRIALS),
    }


def _other_values() -> dict[str, st.SearchStrategy[Any]]:
    """Values of every kind for every field of the form, most of them bad."""
    return {
        "compute": st.one_of(st.text(max_size=8), NOT_STRINGS),
        "instance_type": st.one_of(st.text(max_size=15), NOT_STRINGS),
        "instance_count": st.one_of(st.integers(-2, MAX_FORM_INSTANCES + 3), NUMBERS, JSON),
        "hyperparameters": JSON.filter(lambda v: not isinstance(v, dict)),
        "deploy": JSON,
        "beat_in_service": JSON,
        "quality_threshold": st.one_of(NUMBERS, JSON),
        "endpoint_name": BAD_ENDPOINT_NAMES,
        "registry": NOT_STRINGS,
        "train_data_uri": NOT_STRINGS,
        "validation_data_uri": NOT_STRINGS,
        "score_data_uri": NOT_STRINGS,
        "process_raw_data": JSON,
        "raw_data_uri": NOT_STRINGS,
        "validation_fraction": st.one_of(NUMBERS, JSON),
        "tune": JSON,
        "l2_min": st.one_of(NUMBERS, JSON),
        "l2_max": st.one_of(NUMBERS, JSON),
        "max_trials": st.one_of(st.integers(-2, MAX_FORM_TRIALS + 3), NUMBERS, JSON),
        "max_parallel_trials": st.one_of(st.integers(-2, MAX_FORM_PARALLEL_TRIALS + 3), NUMBERS, JSON),
    }


@settings(max_examples=600, deadline=None)
@given(data=st.data())
def test_the_form_accepts_exactly_the_confs_the_tasks_accept(retrain_dag, data):
    instance_types = retrain_dag.params.get_param("instance_type").schema["enum"]
    good, other = _good_values(instance_types), _other_values()
    conf = data.draw(st.fixed_dictionaries({}, optional=good), label="valid fields")
    for name in data.draw(st.lists(st.sampled_from(sorted(good)), max_size=2, unique=True), label="changed"):
        conf[name] = data.draw(other[name], label=name)
    extra = data.draw(st.dictionaries(st.text(max_size=8).filter(lambda k: k not in good), JSON, max_size=2))
    conf.update(extra)  # keys the form does not know are passed through to the run, unchecked
    valid = _valid(conf, instance_types)
    event("valid conf" if valid else "invalid conf")
    assert _form_accepts(retrain_dag, conf) == valid


FIELDS = [
    "compute",
    "instance_type",
    "instance_count",
    "hyperparameters",
    "deploy",
    "beat_in_service",
    "quality_threshold",
    "endpoint_name",
    "registry",
    "train_data_uri",
    "validation_data_uri",
    "score_data_uri",
    "process_raw_data",
    "raw_data_uri",
    "validation_fraction",
    "tune",
    "l2_min",
    "l2_max",
    "max_trials",
    "max_parallel_trials",
]


def test_every_form_field_gets_generated_values(retrain_dag):
    assert set(FIELDS) == set(retrain_dag.params)


@pytest.mark.parametrize("name", FIELDS)
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_each_field_alone_is_accepted_exactly_when_valid(retrain_dag, name, data):
    instance_types = retrain_dag.params.get_param("instance_type").schema["enum"]
    value = data.draw(st.one_of(_good_values(instance_types)[name], _other_values()[name]), label=name)
    assert _form_accepts(retrain_dag, {name: value}) == _valid({name: value}, instance_types)


@pytest.mark.parametrize("count", [0, -1, MAX_FORM_INSTANCES + 1, 100, 1.5, "3", True])
def test_the_form_refuses_instance_counts_out_of_range(retrain_dag, count):
    assert not _form_accepts(retrain_dag, {"instance_count": count})


@pytest.mark.parametrize(
    "hyperparameters",
    [{"layers": [1, 2]}, {"l2": None}, {"opt": {"lr": 0.1}}, {"": "x"}, {"k" * 257: "x"}, {"x": "v" * 2501}],
    ids=["list", "null", "object", "empty-name", "long-name", "long-value"],
)
def test_the_form_refuses_hyperparameters_the_train_task_refuses(retrain_dag, hyperparameters):
    with pytest.raises(SpecError):
        hyperparameters_as_strings(hyperparameters)
    assert not _form_accepts(retrain_dag, {"hyperparameters": hyperparameters})


@pytest.mark.parametrize("name", ["linear\n", "a" + "-" * 70 + "b"], ids=["trailing-newline", "72-chars"])
def test_the_form_refuses_endpoint_names_the_deploy_task_refuses(retrain_dag, name):
    with pytest.raises(SpecError):
        check_endpoint_name(name)
    assert not _form_accepts(retrain_dag, {"endpoint_name": name})
