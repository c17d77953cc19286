"""SageMaker's tuning rules, refused before anything starts: ranges, strategies, limits, warm start; trial names."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.tuning.config import TuningConfig
from ml_lifecycle.core.tuning.curves import curve_of
from ml_lifecycle.core.tuning.ranges import parse_parameter_ranges
from ml_lifecycle.core.tuning.state import Trial, TrialStatus, TuningState, trial_name

CONTINUOUS = {"ContinuousParameterRanges": [{"Name": "lr", "MinValue": "0.001", "MaxValue": "0.1"}]}
CATEGORICAL = {
    "CategoricalParameterRanges": [{"Name": "opt", "Values": ["a", "b"]}, {"Name": "n", "Values": [1, 2, 3]}]
}


def _build(**changes: Any) -> TuningConfig:
    """Build a config from valid settings with some changed.

    :param changes: settings to change.
    """
    settings: dict[str, Any] = {
        "strategy": "Bayesian",
        "objective_metric_name": "loss",
        "objective_type": "Minimize",
        "parameter_ranges": CONTINUOUS,
        "metric_names": ["loss", "accuracy"],
        "static_hyperparameters": {"epochs": "5"},
        "max_training_jobs": 10,
        **changes,
    }
    return TuningConfig.build(**settings)


@pytest.mark.parametrize(
    ("changes", "parameter", "says"),
    [
        ({"objective_metric_name": "rmse"}, "objective_metric_name", "'rmse' is not among the metric definitions"),
        ({"strategy": "Genetic"}, "strategy", "'Genetic' is not allowed"),
        ({"objective_type": "Lower"}, "objective_type", "not allowed"),
        ({"max_training_jobs": None}, "max_training_jobs", "is missing"),
        ({"max_parallel_training_jobs": 0}, "max_parallel_training_jobs", "out of range"),
        ({"max_runtime_s": 60}, "max_tuning_runtime_s", "out of range"),
        ({"early_stopping_type": "On"}, "early_stopping_type", "not allowed"),
        ({"strategy": "Grid", "max_training_jobs": None}, "parameter_ranges", "Grid searches categorical ranges only"),
        (
            {"strategy": "Grid", "parameter_ranges": CATEGORICAL, "max_training_jobs": 5},
            "max_training_jobs",
            "the grid has 6 combinations",
        ),
        ({"strategy": "Hyperband", "early_stopping_type": "Auto"}, "early_stopping_type", "must be Off with Hyperband"),
        (
            {"strategy": "Hyperband", "static_hyperparameters": {}},
            "strategy_config",
            "no MaxResource and no static epochs",
        ),
        ({"strategy_config": {"HyperbandStrategyConfig": {}}}, "strategy_config", "is given for Bayesian"),
        ({"static_hyperparameters": {"lr": "0.1"}}, "hyperparameters", "also searched"),
        (
            {"static_hyperparameters": {f"s{i}": "1" for i in range(99)}},
            "hyperparameters",
            "make 101 with _tuning_objective_metric",
        ),
        ({"warm_start_config": {"WarmStartType": "TransferLearning"}}, "warm_start_config", "not a WarmStartConfig"),
        (
            {"warm_start_config": {"ParentHyperParameterTuningJobs": [], "WarmStartType": "TransferLearning"}},
            "ParentHyperParameterTuningJobs",
            "not 1 to 5",
        ),
        (
            {
                "warm_start_config": {
                    "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "p"}],
                    "WarmStartType": "Identical",
                }
            },
            "WarmStartType",
            "not allowed",
        ),
    ],
)
def test_what_sagemaker_refuses_is_refused_with_its_parameter(changes, parameter, says):
    with pytest.raises(SpecError) as err:
        _build(**changes)
    assert parameter in str(err.value) and says in str(err.value)


def test_grid_runs_its_number_of_combinations():
    assert _build(strategy="Grid", parameter_ranges=CATEGORICAL, max_training_jobs=None).max_training_jobs == 6
    assert _build(strategy="Grid", parameter_ranges=CATEGORICAL, max_training_jobs=6).max_training_jobs == 6


@pytest.mark.parametrize(
    ("settings", "resources"),
    [
        ({}, (1, 5)),  # MaxResource from the static epochs
        ({"strategy_config": {"HyperbandStrategyConfig": {"MinResource": 2, "MaxResource": 30}}}, (2, 30)),
    ],
)
def test_hyperband_takes_its_resources_from_the_config_or_the_epochs(settings, resources):
    config = _build(strategy="Hyperband", **settings)
    assert (config.min_resource, config.max_resource) == resources


@pytest.mark.parametrize(
    ("ranges", "says"),
    [
        (
            {
                "IntegerParameterRanges": [
                    {"Name": "n", "MinValue": 1, "MaxValue": 9, "ScalingType": "ReverseLogarithmic"}
                ]
            },
            "not allowed",
        ),
        (
            {
                "ContinuousParameterRanges": [
                    {"Name": "m", "MinValue": "0.5", "MaxValue": "1", "ScalingType": "ReverseLogarithmic"}
                ]
            },
            "0 <= MinValue < MaxValue < 1",
        ),
        (
            {
                "ContinuousParameterRanges": [
                    {"Name": "lr", "MinValue": "0", "MaxValue": "1", "ScalingType": "Logarithmic"}
                ]
            },
            "needs values above 0",
        ),
        ({"ContinuousParameterRanges": [{"Name": "lr", "MinValue": "2", "MaxValue": "1"}]}, "is above MaxValue"),
        ({"IntegerParameterRanges": [{"Name": "n", "MinValue": "1.5", "MaxValue": "3"}]}, "not a whole number"),
        ({"CategoricalParameterRanges": [{"Name": "c", "Values": []}]}, "has 0 values"),
        ({"CategoricalParameterRanges": [{"Name": "c", "Values": ["a", "a"]}]}, "repeats a value"),
        ({"CategoricalParameterRanges": [{"Name": "c", "Values": [str(i) for i in range(31)]}]}, "has 31 values"),
        ({"AutoParameters": [{"Name": "lr", "ValueHint": "0.1"}]}, "Autotune is not supported"),
        (
            {"IntegerParameterRanges": [{"Name": f"p{i}", "MinValue": 1, "MaxValue": 2} for i in range(31)]},
            "holds 31 ranges",
        ),
        (
            {
                "IntegerParameterRanges": [{"Name": "a", "MinValue": 1, "MaxValue": 2}],
                "CategoricalParameterRanges": [{"Name": "a", "Values": ["x"]}],
            },
            "more than once",
        ),
        ({}, "holds no range"),
    ],
)
def test_ranges_sagemaker_refuses(ranges, says):
    with pytest.raises(SpecError, match=re.escape(says)):
        parse_parameter_ranges(ranges)


def test_ranges_read_strings_and_numbers_and_write_sagemakers_shape():
    ranges = parse_parameter_ranges(
        {
            "IntegerParameterRanges": [{"Name": "n", "MinValue": "1", "MaxValue": 8, "ScalingType": "Logarithmic"}],
            "ContinuousParameterRanges": [
                {"Name": "m", "MinValue": 0.5, "MaxValue": "0.999", "ScalingType": "ReverseLogarithmic"}
            ],
            "CategoricalParameterRanges": [{"Name": "opt", "Values": ["a", 2]}],
        }
    )
    assert ranges.names() == ["n", "m", "opt"]
    assert ranges.to_dict()["IntegerParameterRanges"] == [
        {"Name": "n", "MinValue": "1", "MaxValue": "8", "ScalingType": "Logarithmic"}
    ]
    assert ranges.categorical[0].values == ("a", "2")


@pytest.mark.parametrize("tuning_job", ["t", "x" * 63, "dag-with-a-long-name-tune-model-abcdef12"])
@pytest.mark.parametrize("number", [1, 42, 999, 1000])
def test_trial_names_look_like_sagemakers_fit_63_characters_and_repeat_on_retry(tuning_job, number):
    name = trial_name(tuning_job, number)
    assert len(name) <= 63 and re.fullmatch(r"[a-zA-Z0-9](-?[a-zA-Z0-9])*-\d{3,}-[0-9a-f]{8}", name)
    assert name == trial_name(tuning_job, number) and name != trial_name(tuning_job, number + 1)


def test_the_best_trial_is_the_best_completed_one_parents_included():
    state = TuningState("t", "Random", "loss", "Minimize", 0.0)
    state.trials = [
        Trial(1, "t-001", {}, {}, TrialStatus.COMPLETED, objective=0.5),
        Trial(2, "t-002", {}, {}, TrialStatus.STOPPED, objective=0.1, early_stopped=True),
        Trial(3, "t-003", {}, {}, TrialStatus.FAILED),
        Trial(4, "t-004", {}, {}, TrialStatus.COMPLETED, objective=0.3),
    ]
    assert state.best().name == "t-004"
    assert state.best([Trial(1, "p-001", {}, {}, TrialStatus.COMPLETED, objective=0.2)]).name == "p-001"
    assert TuningState.from_dict(state.to_dict()) == state
    assert state.counts() == {"InProgress": 0, "Completed": 2, "Failed": 1, "Stopped": 1}


def test_curves_are_the_values_or_their_running_average():
    series = [[0.1, 4.0], [0.2, 2.0], [0.3, 0.0]]
    assert curve_of(series, running_average=False) == [4.0, 2.0, 0.0]
    assert curve_of(series, running_average=True) == [4.0, 3.0, 2.0]
