"""The Optuna search behind TuneOnEC2Operator, rebuilt from the tuning state before every decision."""

from __future__ import annotations

import itertools
import statistics

from ml_lifecycle.core.tuning.config import TuningConfig
from ml_lifecycle.core.tuning.state import Trial, TrialStatus, trial_name
from ml_lifecycle.tuning.search import Search, hyperparameters_of, params_of

GRID = {"CategoricalParameterRanges": [{"Name": "opt", "Values": ["a", "b", "c"]}, {"Name": "n", "Values": ["1", "3"]}]}
SCALED = {
    "ContinuousParameterRanges": [
        {"Name": "momentum", "MinValue": "0.9", "MaxValue": "0.9999", "ScalingType": "ReverseLogarithmic"},
        {"Name": "lr", "MinValue": "0.00001", "MaxValue": "1", "ScalingType": "Logarithmic"},
    ],
    "IntegerParameterRanges": [{"Name": "depth", "MinValue": 1, "MaxValue": 1000, "ScalingType": "Logarithmic"}],
}


def _config(strategy: str, ranges: dict, jobs: int | None = None, **more) -> TuningConfig:
    """Build a config minimizing ``loss``.

    :param strategy: the strategy.
    :param ranges: the ParameterRanges.
    :param jobs: MaxNumberOfTrainingJobs.
    :param more: other settings.
    """
    return TuningConfig.build(
        strategy=strategy,
        objective_metric_name="loss",
        objective_type="Minimize",
        parameter_ranges=ranges,
        metric_names=["loss"],
        static_hyperparameters={},
        max_training_jobs=jobs,
        **more,
    )


def _propose(config: TuningConfig, trials: list[Trial]) -> Trial:
    """Rebuild the search from the trials and add the next one, running.

    :param config: the settings.
    :param trials: the trials so far (the new one is appended).
    """
    number = len(trials) + 1
    params, attrs = Search(config, "tj", trials).propose(number)
    trial = Trial(number, trial_name("tj", number), hyperparameters_of(config, params), params, search_attrs=attrs)
    trials.append(trial)
    return trial


def test_grid_enumerates_exactly_its_grid_with_trials_running_in_parallel():
    config = _config("Grid", GRID)
    trials: list[Trial] = []
    for _ in range(3):  # two run at once; the first ends before the next two are asked for
        _propose(config, trials)
        _propose(config, trials)
        trials[-2].status, trials[-2].objective = TrialStatus.COMPLETED, 1.0
    seen = sorted((t.hyperparameters["opt"], t.hyperparameters["n"]) for t in trials)
    assert seen == sorted(itertools.product(["a", "b", "c"], ["1", "3"]))


def test_scaled_ranges_stay_inside_and_reverse_logarithmic_crowds_towards_one():
    config = _config("Random", SCALED, jobs=200)
    trials: list[Trial] = []
    for _ in range(60):
        trial = _propose(config, trials)
        trial.status, trial.objective = TrialStatus.COMPLETED, 1.0
    momentum = [float(t.hyperparameters["momentum"]) for t in trials]
    lr = [float(t.hyperparameters["lr"]) for t in trials]
    depth = [int(t.hyperparameters["depth"]) for t in trials]
    assert all(0.9 <= m <= 0.9999 for m in momentum) and all(1e-5 <= v <= 1 for v in lr) and min(depth) >= 1
    assert max(depth) <= 1000
    # log scales: half the samples lie in the lower (upper, reversed) tenth of the linear range or beyond
    assert statistics.median(momentum) > 0.99 and statistics.median(lr) < 0.1 and statistics.median(depth) < 100


def test_a_rebuilt_search_proposes_the_same_trial_again():
    config = _config("Bayesian", SCALED, jobs=20)
    trials: list[Trial] = []
    for _ in range(12):
        trial = _propose(config, trials)
        trial.status, trial.objective = TrialStatus.COMPLETED, float(trial.hyperparameters["lr"])
    again = Search(config, "tj", trials).propose(13)
    assert again == Search(config, "tj", trials).propose(13)


def test_a_parents_trial_seeds_the_search_only_when_it_fits_the_ranges():
    config = _config("Random", SCALED, jobs=5)
    assert params_of(config, {"momentum": "0.99", "lr": "0.01", "depth": "10"}) is not None
    assert params_of(config, {"momentum": "0.5", "lr": "0.01", "depth": "10"}) is None
    assert params_of(config, {"lr": "0.01", "depth": "10"}) is None


def test_early_stopping_stops_a_curve_worse_than_the_median_of_completed_ones():
    config = _config("Random", SCALED, jobs=10, early_stopping_type="Auto")
    trials: list[Trial] = []
    for _ in range(3):
        trial = _propose(config, trials)
        trial.status, trial.objective = TrialStatus.COMPLETED, 0.5
        trial.series = [[i, 1.0 / i] for i in range(1, 6)]
    good, bad = _propose(config, trials), _propose(config, trials)
    good.series = [[1, 1.0], [2, 0.4]]
    bad.series = [[1, 9.0], [2, 9.0]]
    search = Search(config, "tj", trials)
    assert search.should_stop(good)[0] is False
    assert search.should_stop(bad)[0] is True


def test_hyperband_stops_trials_at_its_rungs_and_only_worse_ones():
    config = _config(
        "Hyperband",
        SCALED,
        jobs=12,
        strategy_config={"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 9}},
    )
    trials: list[Trial] = []
    for number in range(1, 13):
        trial = _propose(config, trials)
        level = (number * 7) % 12  # a fixed spread of good and bad curves
        trial.series = [[step, level + 1.0 / step] for step in range(1, 10)]
        stop, trial.search_attrs = Search(config, "tj", trials).should_stop(trial)
        trial.status, trial.early_stopped = (TrialStatus.STOPPED, True) if stop else (TrialStatus.COMPLETED, False)
        trial.objective = trial.series[-1][1]
    stopped = [t.objective for t in trials if t.early_stopped]
    kept = [t.objective for t in trials if not t.early_stopped]
    assert stopped and kept and statistics.median(stopped) > statistics.median(kept)
