"""The search behind a tuning job, with Optuna: SageMaker's strategies as samplers, early stopping as pruners.

The study is rebuilt from the stored tuning state before every decision (trials that ended are added as finished
trials, running ones as running trials with their curves so far), so a retried or resumed task decides exactly as
one that never stopped would, and never needs Optuna's own storage.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from ml_lifecycle.core.tuning.config import TuningConfig
from ml_lifecycle.core.tuning.curves import curve_of
from ml_lifecycle.core.tuning.ranges import NumericRange
from ml_lifecycle.core.tuning.state import Trial, TrialStatus

optuna.logging.set_verbosity(optuna.logging.WARNING)
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

# Automatic early stopping: trials that must complete before any is stopped, and steps a trial always gets.
EARLY_STOPPING_STARTUP_TRIALS = 3
EARLY_STOPPING_WARMUP_STEPS = 1
HYPERBAND_REDUCTION_FACTOR = 3


def distributions(config: TuningConfig) -> dict[str, BaseDistribution]:
    """Return each searched hyperparameter's Optuna distribution (a reverse-logarithmic range as ``1 - x``, searched
    on a log scale, so values crowd towards the range's top as SageMaker's ReverseLogarithmic does).

    :param config: the tuning job's settings.
    """
    result: dict[str, BaseDistribution] = {}
    for r in config.ranges.numeric:
        log = r.scaling == "Logarithmic"
        if r.integer:
            result[r.name] = IntDistribution(int(r.min_value), int(r.max_value), log=log)
        elif r.scaling == "ReverseLogarithmic":
            result[r.name] = FloatDistribution(1.0 - r.max_value, 1.0 - r.min_value, log=True)
        else:
            result[r.name] = FloatDistribution(r.min_value, r.max_value, log=log)
    for c in config.ranges.categorical:
        result[c.name] = CategoricalDistribution(list(c.values))
    return result


def hyperparameters_of(config: TuningConfig, params: dict[str, Any]) -> dict[str, str]:
    """Turn proposed values into the strings the container gets.

    :param config: the tuning job's settings.
    :param params: name -> the value Optuna proposed.
    """
    reverse = {r.name for r in config.ranges.numeric if r.scaling == "ReverseLogarithmic"}
    numeric = {r.name: r for r in config.ranges.numeric}
    result = {}
    for name, value in params.items():
        if name in reverse:
            value = 1.0 - float(value)
        elif name in numeric:
            value = int(value) if numeric[name].integer else float(value)
        result[name] = str(value)
    return result


def params_of(config: TuningConfig, hyperparameters: dict[str, str]) -> dict[str, Any] | None:
    """Turn a trial's hyperparameters back into values of this search's distributions, or None when they do not fit
    (a warm start's parent that searched other ranges).

    :param config: the tuning job's settings.
    :param hyperparameters: the trial's hyperparameters.
    """
    params: dict[str, Any] = {}
    for name, distribution in distributions(config).items():
        text = hyperparameters.get(name)
        if text is None:
            return None
        try:
            value: Any = _value_in(config, name, text)
        except ValueError:
            return None
        if not _inside(distribution, value):
            return None
        params[name] = value
    return params


def _inside(distribution: BaseDistribution, value: Any) -> bool:
    """Say whether a value lies in a distribution.

    :param distribution: an Int, Float or Categorical distribution.
    :param value: the value.
    """
    if isinstance(distribution, CategoricalDistribution):
        return value in distribution.choices
    return bool(distribution.low <= value <= distribution.high)  # type: ignore[attr-defined]


def _value_in(config: TuningConfig, name: str, text: str) -> Any:
    """Parse one hyperparameter's text as its distribution holds it.

    :param config: the tuning job's settings.
    :param name: the hyperparameter.
    :param text: its value as the container got it.
    """
    numeric: dict[str, NumericRange] = {r.name: r for r in config.ranges.numeric}
    if name not in numeric:
        return text
    if numeric[name].integer:
        return int(float(text))
    value = float(text)
    return 1.0 - value if numeric[name].scaling == "ReverseLogarithmic" else value


class Search:
    """One decision of the search: a study rebuilt from the trials, asked for new trials and whether to stop one.

    :param config: the tuning job's settings.
    :param study_name: the tuning job's name (Hyperband's brackets depend on it, so it must not change).
    :param trials: the tuning job's trials, in the order they started.
    :param seeded: trials of earlier tuning jobs (a warm start), added before the tuning job's own.
    """

    def __init__(self, config: TuningConfig, study_name: str, trials: Sequence[Trial], seeded: Sequence[Trial] = ()):
        self.config = config
        self.study_name = study_name
        self.distributions = distributions(config)
        self.running_average = config.early_stopping == "Auto"
        self.study = optuna.create_study(
            study_name=study_name,
            direction="minimize" if config.objective.type == "Minimize" else "maximize",
            sampler=self._sampler(len(trials) + 1),
            pruner=self._pruner(),
        )
        for trial in seeded:
            if trial.objective is None or trial.status != TrialStatus.COMPLETED:
                continue
            # A parent's trial outside these ranges still shows early stopping what a curve can reach.
            params = params_of(config, trial.hyperparameters) or {}
            curve = curve_of(trial.series, running_average=self.running_average)
            self.study.add_trial(
                optuna.trial.create_trial(
                    state=TrialState.COMPLETE,
                    value=trial.objective,
                    params=params,
                    distributions={name: self.distributions[name] for name in params},
                    intermediate_values=dict(enumerate(curve, start=1)),
                )
            )
        self._ids: dict[int, int] = {}  # our trial number -> its index in the study
        for trial in trials:
            self._ids[trial.number] = len(self.study.trials)
            self.study.add_trial(self._frozen(trial))

    def _sampler(self, number: int) -> optuna.samplers.BaseSampler:
        """Return the strategy's sampler, seeded for the next trial (the same trial gets the same proposal on retry).

        :param number: the number of the trial it proposes.
        """
        base = self.config.random_seed if self.config.random_seed is not None else self.study_name
        if self.config.strategy == "Grid":  # one seed for all: it orders the grid, which must not change
            space = {c.name: list(c.values) for c in self.config.ranges.categorical}
            return optuna.samplers.GridSampler(space, seed=_seed(f"{base}"))
        seed = _seed(f"{base}\0{number}")
        if self.config.strategy == "Bayesian":
            return optuna.samplers.TPESampler(seed=seed, constant_liar=True)
        return optuna.samplers.RandomSampler(seed=seed)

    def _pruner(self) -> optuna.pruners.BasePruner:
        """Return what stops trials early: Hyperband's successive halving, the median rule (Auto), or nothing."""
        if self.config.strategy == "Hyperband":
            return optuna.pruners.HyperbandPruner(
                min_resource=self.config.min_resource,
                max_resource=self.config.max_resource or "auto",
                reduction_factor=HYPERBAND_REDUCTION_FACTOR,
            )
        if self.config.early_stopping == "Auto":
            return optuna.pruners.MedianPruner(
                n_startup_trials=EARLY_STOPPING_STARTUP_TRIALS, n_warmup_steps=EARLY_STOPPING_WARMUP_STEPS
            )
        return optuna.pruners.NopPruner()

    def _frozen(self, trial: Trial) -> optuna.trial.FrozenTrial:
        """Return a trial as the study holds it.

        :param trial: one of the tuning job's trials.
        """
        curve = dict(enumerate(curve_of(trial.series, running_average=self.running_average), start=1))
        if trial.status == TrialStatus.COMPLETED and trial.objective is not None:
            state, value = TrialState.COMPLETE, trial.objective
        elif trial.early_stopped:
            state, value = TrialState.PRUNED, None
        elif trial.finished:
            state, value = TrialState.FAIL, None
        else:
            state, value = TrialState.RUNNING, None
        return optuna.trial.create_trial(
            state=state,
            value=value,
            params=trial.params,
            distributions=self.distributions,
            intermediate_values=curve,
            system_attrs=dict(trial.search_attrs),
        )

    def propose(self, number: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """Ask for the next trial's values; it joins the study as running. Return (params, search attributes).

        :param number: the trial's number.
        """
        self.study.sampler = self._sampler(number)
        asked = self.study.ask(fixed_distributions=self.distributions)
        self._ids[number] = len(self.study.trials) - 1
        return dict(asked.params), _json_safe(self.study.trials[-1].system_attrs)

    def should_stop(self, trial: Trial) -> tuple[bool, dict[str, Any]]:
        """Say whether a running trial's curve so far is hopeless; return it with the trial's search attributes.

        :param trial: a running trial (its series holds its curve so far).
        """
        frozen = self.study.trials[self._ids[trial.number]]
        if not frozen.intermediate_values:
            return False, dict(trial.search_attrs)
        stop = bool(self.study.pruner.prune(self.study, frozen))
        return stop, _json_safe(self.study.trials[self._ids[trial.number]].system_attrs)


def _seed(text: str) -> int:
    """Return a 32-bit seed derived from text.

    :param text: what the seed stands for.
    """
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def _json_safe(attrs: dict[str, Any]) -> dict[str, Any]:
    """Keep the search attributes worth storing (Optuna keeps them as JSON in its own storages too).

    :param attrs: a trial's system attributes.
    """
    return {k: v for k, v in attrs.items() if k != "fixed_params"}
