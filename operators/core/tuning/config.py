"""A tuning job's settings with SageMaker's rules: strategy, objective, limits, early stopping, warm start.

Everything SageMaker's CreateHyperParameterTuningJob refuses is refused here, before any trial starts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ml_lifecycle.core.checks import MAX_HYPERPARAMETERS, check_choice, check_positive_int
from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.tuning.ranges import ParameterRanges, parse_parameter_ranges

STRATEGIES = ("Bayesian", "Random", "Hyperband", "Grid")
OBJECTIVE_TYPES = ("Minimize", "Maximize")
EARLY_STOPPING_TYPES = ("Off", "Auto")
WARM_START_TYPES = ("IdenticalDataAndAlgorithm", "TransferLearning")
MAX_PARENT_TUNING_JOBS = 5
# SageMaker's bounds of ResourceLimits.MaxRuntimeInSeconds (HyperParameterTuningMaxRuntimeInSeconds).
MIN_TUNING_RUNTIME_S = 120
MAX_TUNING_RUNTIME_S = 15_768_000
# Hyperband infers MaxResource from these static hyperparameters when StrategyConfig does not give it.
EPOCH_KEYS = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")
MAX_HYPERBAND_RESOURCE = 20_000
# SageMaker adds this hyperparameter to every trial, naming the objective metric (it counts against the 100).
OBJECTIVE_HYPERPARAMETER = "_tuning_objective_metric"


@dataclass(frozen=True)
class Objective:
    """What the tuning job optimizes: the final value of one metric of the training definition.

    :param metric_name: a name among the training definition's metric definitions.
    :param type: ``Minimize`` or ``Maximize``.
    """

    metric_name: str
    type: str = "Maximize"

    def better(self, value: float, than: float) -> bool:
        """Say whether value is strictly better than another.

        :param value: the candidate.
        :param than: the value to beat.
        """
        return value < than if self.type == "Minimize" else value > than


@dataclass(frozen=True)
class WarmStart:
    """Earlier tuning jobs whose trials seed the search.

    :param parents: the parent tuning jobs' names.
    :param type: ``IdenticalDataAndAlgorithm`` or ``TransferLearning``.
    """

    parents: tuple[str, ...]
    type: str


@dataclass(frozen=True)
class TuningConfig:
    """A validated tuning job: what it searches, how, and within which limits.

    :param strategy: ``Bayesian``, ``Random``, ``Hyperband`` or ``Grid``.
    :param objective: the metric and its direction.
    :param ranges: the searched ranges.
    :param static_hyperparameters: hyperparameters every trial gets unchanged (strings).
    :param max_training_jobs: how many trials in all (Grid: the number of combinations).
    :param max_parallel_training_jobs: how many trials run at once.
    :param max_runtime_s: after this the running trials are stopped and the best so far is the result; None: no limit.
    :param early_stopping: ``Off``, or ``Auto`` (a trial worse than the median of earlier ones at the same step stops).
    :param warm_start: earlier tuning jobs to start from, or None.
    :param min_resource: Hyperband: the steps (epochs) a trial always gets.
    :param max_resource: Hyperband: the most steps a trial gets.
    :param random_seed: seeds the sampler (the same seed proposes the same trials), or None.
    """

    strategy: str
    objective: Objective
    ranges: ParameterRanges
    static_hyperparameters: Mapping[str, str] = field(default_factory=dict)
    max_training_jobs: int = 1
    max_parallel_training_jobs: int = 1
    max_runtime_s: int | None = None
    early_stopping: str = "Off"
    warm_start: WarmStart | None = None
    min_resource: int = 1
    max_resource: int | None = None
    random_seed: int | None = None

    @classmethod
    def build(
        cls,
        *,
        strategy: str,
        objective_metric_name: str,
        objective_type: str,
        parameter_ranges: Any,
        metric_names: Sequence[str],
        static_hyperparameters: Mapping[str, str],
        max_training_jobs: Any = None,
        max_parallel_training_jobs: Any = 1,
        max_runtime_s: Any = None,
        early_stopping_type: str = "Off",
        warm_start_config: Mapping[str, Any] | None = None,
        strategy_config: Mapping[str, Any] | None = None,
        random_seed: Any = None,
    ) -> TuningConfig:
        """Check the settings against SageMaker's rules and build the config.

        :param strategy: see the class.
        :param objective_metric_name: HyperParameterTuningJobObjective.MetricName.
        :param objective_type: HyperParameterTuningJobObjective.Type.
        :param parameter_ranges: ParameterRanges in SageMaker's shape.
        :param metric_names: the names of the training definition's metric definitions.
        :param static_hyperparameters: StaticHyperParameters, already strings.
        :param max_training_jobs: ResourceLimits.MaxNumberOfTrainingJobs; None only with Grid.
        :param max_parallel_training_jobs: ResourceLimits.MaxParallelTrainingJobs.
        :param max_runtime_s: ResourceLimits.MaxRuntimeInSeconds, or None.
        :param early_stopping_type: TrainingJobEarlyStoppingType.
        :param warm_start_config: WarmStartConfig in SageMaker's shape, or None.
        :param strategy_config: StrategyConfig in SageMaker's shape (``HyperbandStrategyConfig``), or None.
        :param random_seed: RandomSeed, or None.
        """
        check_choice("strategy", strategy, STRATEGIES)
        check_choice("objective_type", objective_type, OBJECTIVE_TYPES)
        check_choice("early_stopping_type", early_stopping_type, EARLY_STOPPING_TYPES)
        if objective_metric_name not in metric_names:
            raise SpecError(
                "objective_metric_name",
                f"{objective_metric_name!r} is not among the metric definitions {sorted(metric_names)}",
                f'Add {{"Name": "{objective_metric_name}", "Regex": ...}} to metric_definitions, or name one of them',
            )
        ranges = parse_parameter_ranges(parameter_ranges)
        _check_static(ranges, static_hyperparameters)
        max_jobs = _max_training_jobs(strategy, ranges, max_training_jobs)
        min_resource, max_resource = _hyperband(strategy, strategy_config, early_stopping_type, static_hyperparameters)
        runtime = None
        if max_runtime_s is not None:
            runtime = check_positive_int(
                "max_tuning_runtime_s", max_runtime_s, MIN_TUNING_RUNTIME_S, MAX_TUNING_RUNTIME_S
            )
        return cls(
            strategy=strategy,
            objective=Objective(objective_metric_name, objective_type),
            ranges=ranges,
            static_hyperparameters=dict(static_hyperparameters),
            max_training_jobs=max_jobs,
            max_parallel_training_jobs=check_positive_int("max_parallel_training_jobs", max_parallel_training_jobs),
            max_runtime_s=runtime,
            early_stopping=early_stopping_type,
            warm_start=parse_warm_start(warm_start_config),
            min_resource=min_resource,
            max_resource=max_resource,
            random_seed=None if random_seed is None else check_positive_int("random_seed", random_seed, 0),
        )


def _check_static(ranges: ParameterRanges, static: Mapping[str, str]) -> None:
    """Refuse a hyperparameter both static and searched, and more than SageMaker's 100 in all.

    :param ranges: the searched ranges.
    :param static: the static hyperparameters.
    """
    both = sorted(set(ranges.names()) & set(static))
    if both:
        raise SpecError("hyperparameters", f"{both} are also searched in parameter_ranges", "Keep each in one place")
    total = len(ranges.names()) + len(static) + 1  # and _tuning_objective_metric
    if total > MAX_HYPERPARAMETERS:
        raise SpecError(
            "hyperparameters",
            f"static and searched make {total} with {OBJECTIVE_HYPERPARAMETER}",
            f"Keep at most {MAX_HYPERPARAMETERS}",
        )


def _max_training_jobs(strategy: str, ranges: ParameterRanges, value: Any) -> int:
    """Return the number of trials: Grid derives it from its grid (categorical ranges only), others need it.

    :param strategy: the strategy.
    :param ranges: the searched ranges.
    :param value: MaxNumberOfTrainingJobs as given, or None.
    """
    if strategy != "Grid":
        if value is None:
            raise SpecError(
                "max_training_jobs", "is missing", f"Give MaxNumberOfTrainingJobs for the {strategy} strategy"
            )
        return check_positive_int("max_training_jobs", value)
    if ranges.numeric:
        names = [r.name for r in ranges.numeric]
        raise SpecError(
            "parameter_ranges",
            f"Grid searches categorical ranges only, and {names} are integer or continuous",
            "Write them as CategoricalParameterRanges with the values to try, or use another strategy",
        )
    size = ranges.grid_size()
    if value is not None and check_positive_int("max_training_jobs", value) != size:
        raise SpecError(
            "max_training_jobs", f"is {value} but the grid has {size} combinations", "Leave it out with Grid"
        )
    return size


def _hyperband(
    strategy: str, config: Mapping[str, Any] | None, early_stopping: str, static: Mapping[str, str]
) -> tuple[int, int | None]:
    """Return Hyperband's (MinResource, MaxResource), refusing StrategyConfig elsewhere and early stopping with it.

    :param strategy: the strategy.
    :param config: StrategyConfig, or None.
    :param early_stopping: TrainingJobEarlyStoppingType.
    :param static: the static hyperparameters (MaxResource may come from their epochs).
    """
    if strategy != "Hyperband":
        if config:
            raise SpecError("strategy_config", f"is given for {strategy}", "Give it only with the Hyperband strategy")
        return 1, None
    if early_stopping != "Off":
        raise SpecError(
            "early_stopping_type", "must be Off with Hyperband", "Hyperband stops trials itself: set it to Off"
        )
    unknown = sorted(set(config or {}) - {"HyperbandStrategyConfig"})
    if unknown:
        raise SpecError(
            "strategy_config", f"has unsupported keys {unknown}", "Write {'HyperbandStrategyConfig': {...}}"
        )
    hyperband = (config or {}).get("HyperbandStrategyConfig") or {}
    minimum = check_positive_int("MinResource", hyperband.get("MinResource", 1), 1, MAX_HYPERBAND_RESOURCE)
    maximum = hyperband.get("MaxResource")
    if maximum is None:
        maximum = next((static[k] for k in EPOCH_KEYS if k in static), None)
    if maximum is None:
        raise SpecError(
            "strategy_config",
            "Hyperband has no MaxResource and no static epochs hyperparameter to infer it from",
            f"Give HyperbandStrategyConfig.MaxResource or one of {EPOCH_KEYS} in hyperparameters",
        )
    maximum = check_positive_int("MaxResource", maximum, minimum, MAX_HYPERBAND_RESOURCE)
    return minimum, maximum


def parse_warm_start(value: Mapping[str, Any] | None) -> WarmStart | None:
    """Read WarmStartConfig in SageMaker's shape.

    :param value: ``{"ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": ...}], "WarmStartType": ...}``.
    """
    if not value:
        return None
    where = "warm_start_config"
    if not isinstance(value, Mapping) or set(value) != {"ParentHyperParameterTuningJobs", "WarmStartType"}:
        raise SpecError(
            where, f"{value!r} is not a WarmStartConfig", "Give ParentHyperParameterTuningJobs and WarmStartType"
        )
    check_choice(f"{where}.WarmStartType", value["WarmStartType"], WARM_START_TYPES)
    parents = value["ParentHyperParameterTuningJobs"]
    names = [p.get("HyperParameterTuningJobName") if isinstance(p, Mapping) else None for p in parents or []]
    if not 1 <= len(names) <= MAX_PARENT_TUNING_JOBS or not all(isinstance(n, str) and n for n in names):
        raise SpecError(
            f"{where}.ParentHyperParameterTuningJobs",
            f"{parents!r} is not 1 to {MAX_PARENT_TUNING_JOBS} named tuning jobs",
            'Write [{"HyperParameterTuningJobName": "<a tuning job of this output_path>"}]',
        )
    return WarmStart(tuple(names), value["WarmStartType"])
