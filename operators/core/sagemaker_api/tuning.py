"""CreateHyperParameterTuningJob, field by field: the request the Amazon provider's SageMakerTuningOperator sends (its
``config``, often made by the SageMaker SDK's ``tuning_config``) and the SDK's ``HyperparameterTuner.fit()`` sends,
turned into TuneOnEC2Operator's keyword arguments.

The training definition's fields are CreateTrainingJob's (the same rules, under ``TrainingJobDefinition.``), with
``StaticHyperParameters`` in the place of ``HyperParameters``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.sagemaker_api.fields import FieldRule, apply_rules, maps_to, no_effect, refused
from ml_lifecycle.core.sagemaker_api.training import TRAINING_RULES, channels_and_code

CONFIG = "HyperParameterTuningJobConfig"
DEFINITION = "TrainingJobDefinition"
RANGES = f"{CONFIG}.ParameterRanges"
POOL = f"{DEFINITION}.HyperParameterTuningResourceConfig"
# CreateTrainingJob's fields that a tuning job's training definition (HyperParameterTrainingJobDefinition) has.
DEFINITION_FIELDS = (
    "AlgorithmSpecification.TrainingImage",
    "AlgorithmSpecification.TrainingInputMode",
    "AlgorithmSpecification.AlgorithmName",
    "AlgorithmSpecification.MetricDefinitions",
    "RoleArn",
    "InputDataConfig",
    "VpcConfig",
    "OutputDataConfig",
    "ResourceConfig",
    "StoppingCondition",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
    "CheckpointConfig",
    "RetryStrategy",
    "Environment",
)


def _range_kind(kind: str) -> FieldRule:
    """Return the rule of one kind of ParameterRanges, collected into ``parameter_ranges``.

    :param kind: ``IntegerParameterRanges``, ``ContinuousParameterRanges`` or ``CategoricalParameterRanges``.
    """

    def apply(kwargs: dict[str, Any], value: Any, _: tuple[int, ...]) -> None:
        kwargs.setdefault("parameter_ranges", {})[kind] = value

    return FieldRule(f"{RANGES}.{kind}", f"`parameter_ranges['{kind}']`", apply)


def _definition_rules() -> tuple[FieldRule, ...]:
    """Return CreateTrainingJob's rules of the fields a training definition has, under ``TrainingJobDefinition.``."""
    kept = [
        rule
        for rule in TRAINING_RULES
        if any(rule.path == f or rule.path.startswith((f"{f}.", f"{f}[]")) for f in DEFINITION_FIELDS)
    ]
    renamed = [FieldRule(f"{DEFINITION}.{r.path}", r.effect, r.apply, r.refused, r.allowed) for r in kept]
    static = maps_to(f"{DEFINITION}.StaticHyperParameters", "hyperparameters", dict)
    return (
        no_effect(f"{DEFINITION}.DefinitionName", "accepted; one training definition runs here"),
        static,
        *renamed,
        refused(
            f"{DEFINITION}.TuningObjective",
            f"give the objective in {CONFIG}.HyperParameterTuningJobObjective (one training definition runs here)",
        ),
        refused(f"{DEFINITION}.HyperParameterRanges", f"give the ranges in {RANGES}"),
        *_pool_rules(kept),
    )


def _pool_rules(kept: list[FieldRule]) -> tuple[FieldRule, ...]:
    """Return the rules of HyperParameterTuningResourceConfig (the SDK sends it instead of ResourceConfig): its
    instance type, count and volume as ResourceConfig's; no pool of alternatives to choose from.

    :param kept: CreateTrainingJob's rules of a training definition's fields.
    """
    same = ("InstanceType", "InstanceCount", "VolumeSizeInGB", "VolumeKmsKeyId")
    resource = {r.path: r for r in kept if r.path.startswith("ResourceConfig.")}
    return (
        *(
            FieldRule(f"{POOL}.{f}", resource[f"ResourceConfig.{f}"].effect, resource[f"ResourceConfig.{f}"].apply)
            for f in same
        ),
        no_effect(f"{POOL}.AllocationStrategy", "accepted; one instance type is used"),
        refused(f"{POOL}.InstanceConfigs", "alternative instance types are not chosen from here: give InstanceType"),
    )


TUNING_RULES: tuple[FieldRule, ...] = (
    no_effect(
        "HyperParameterTuningJobName",
        "accepted; the tuning job is named from the Airflow task instance (through the API, by this name); its trials "
        "are `<tuning job>-<NNN>-<8 hex>`",
    ),
    maps_to(f"{CONFIG}.Strategy", "strategy"),
    maps_to(f"{CONFIG}.StrategyConfig", "strategy_config", dict),
    maps_to(f"{CONFIG}.HyperParameterTuningJobObjective.Type", "objective_type"),
    maps_to(f"{CONFIG}.HyperParameterTuningJobObjective.MetricName", "objective_metric_name"),
    maps_to(f"{CONFIG}.ResourceLimits.MaxNumberOfTrainingJobs", "max_training_jobs"),
    maps_to(f"{CONFIG}.ResourceLimits.MaxParallelTrainingJobs", "max_parallel_training_jobs"),
    maps_to(f"{CONFIG}.ResourceLimits.MaxRuntimeInSeconds", "max_tuning_runtime_s"),
    _range_kind("IntegerParameterRanges"),
    _range_kind("ContinuousParameterRanges"),
    _range_kind("CategoricalParameterRanges"),
    refused(f"{RANGES}.AutoParameters", "ranges are not chosen for you here: give them as ParameterRanges", ([],)),
    maps_to(f"{CONFIG}.TrainingJobEarlyStoppingType", "early_stopping_type"),
    refused(
        f"{CONFIG}.TuningJobCompletionCriteria",
        "a tuning job here ends after MaxNumberOfTrainingJobs or MaxRuntimeInSeconds: leave it out",
    ),
    maps_to(f"{CONFIG}.RandomSeed", "random_seed"),
    *_definition_rules(),
    refused("TrainingJobDefinitions", f"one training definition runs here: give {DEFINITION}"),
    maps_to("WarmStartConfig", "warm_start_config", dict),
    refused("Autotune", "settings are not chosen for you here: give HyperParameterTuningJobConfig in full"),
    no_effect("Tags", "accepted; resources are labelled with the caller instead"),
)


def tuning_kwargs(request: Mapping[str, Any]) -> dict[str, Any]:
    """Return TuneOnEC2Operator's keyword arguments for a CreateHyperParameterTuningJob request; raise SpecError
    naming the first field that cannot be honoured.

    :param request: the request (the provider's tuning ``config``), as botocore's input shape in JSON.
    """
    kwargs = apply_rules(request, TUNING_RULES, "CreateHyperParameterTuningJob")
    if DEFINITION not in request:
        raise SpecError(DEFINITION, "is missing", "Give the training definition every trial runs")
    return channels_and_code(kwargs, f"{DEFINITION}.")
