"""CreateHyperParameterTuningJob field by field: the tuning settings and the training definition in
TuneOnEC2Operator's terms, fields refused by name, and every field of botocore's input shape has a rule."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from support.field_tables import unruled_and_foreign

from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.sagemaker_api.tuning import TUNING_RULES, tuning_kwargs

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/curve:1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BASE: dict[str, Any] = {
    "HyperParameterTuningJobName": "curve-tuning",
    "HyperParameterTuningJobConfig": {
        "Strategy": "Random",
        "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
        "ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2},
        "ParameterRanges": {
            "ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1", "ScalingType": "Auto"}],
            "CategoricalParameterRanges": [{"Name": "opt", "Values": ["a", "b"]}],
        },
    },
    "TrainingJobDefinition": {
        "StaticHyperParameters": {"epochs": "3"},
        "AlgorithmSpecification": {
            "TrainingImage": IMAGE,
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "loss", "Regex": "loss=([0-9.]+)"}],
        },
        "RoleArn": ROLE,
        "InputDataConfig": [
            {"ChannelName": "train", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/d"}}}
        ],
        "OutputDataConfig": {"S3OutputPath": "s3://b/out"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    },
}
BASE_KWARGS = {
    "strategy": "Random",
    "objective_type": "Minimize",
    "objective_metric_name": "loss",
    "max_training_jobs": 4,
    "max_parallel_training_jobs": 2,
    "parameter_ranges": BASE["HyperParameterTuningJobConfig"]["ParameterRanges"],
    "hyperparameters": {"epochs": "3"},
    "image_uri": IMAGE,
    "metric_definitions": [{"Name": "loss", "Regex": "loss=([0-9.]+)"}],
    "role_arn": ROLE,
    "channels": {"train": {"data_type": "S3Prefix", "uri": "s3://b/d"}},
    "output_path": "s3://b/out",
    "instance_type": "ml.m5.large",
    "instance_count": 1,
    "ec2_settings": {"volume_size_gb": 30},
    "max_runtime_s": 600,
}


def _with(path: str, value: Any) -> dict[str, Any]:
    """Return BASE with one field (a dotted path) set.

    :param path: e.g. ``HyperParameterTuningJobConfig.RandomSeed``.
    :param value: its value.
    """
    request = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    node = request
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return request


def test_the_settings_and_the_training_definition_become_the_operators_parameters():
    assert tuning_kwargs(BASE) == BASE_KWARGS


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("HyperParameterTuningJobConfig.RandomSeed", 7, {"random_seed": 7}),
        ("HyperParameterTuningJobConfig.TrainingJobEarlyStoppingType", "Auto", {"early_stopping_type": "Auto"}),
        ("HyperParameterTuningJobConfig.ResourceLimits.MaxRuntimeInSeconds", 900, {"max_tuning_runtime_s": 900}),
        (
            "HyperParameterTuningJobConfig.StrategyConfig",
            {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 9}},
            {"strategy_config": {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 9}}},
        ),
        (
            "WarmStartConfig",
            {"ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "p"}], "WarmStartType": "x"},
            {
                "warm_start_config": {
                    "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "p"}],
                    "WarmStartType": "x",
                }
            },
        ),
        ("TrainingJobDefinition.EnableNetworkIsolation", True, {"enable_network_isolation": True}),
        ("TrainingJobDefinition.Environment", {"A": "1"}, {"environment": {"A": "1"}}),
        ("TrainingJobDefinition.CheckpointConfig", {"S3Uri": "s3://b/ck"}, {"checkpoint_uri": "s3://b/ck"}),
        ("TrainingJobDefinition.DefinitionName", "d", {}),
        (
            "TrainingJobDefinition.HyperParameterTuningResourceConfig",
            {
                "InstanceType": "ml.c5.xlarge",
                "InstanceCount": 2,
                "VolumeSizeInGB": 50,
                "AllocationStrategy": "Prioritized",
            },
            {"instance_type": "ml.c5.xlarge", "instance_count": 2, "ec2_settings": {"volume_size_gb": 50}},
        ),
        ("Tags", [{"Key": "k", "Value": "v"}], {}),
        ("HyperParameterTuningJobConfig.ParameterRanges.AutoParameters", [], {}),
    ],
)
def test_each_field_sets_its_parameter_or_nothing(path, value, expected):
    assert tuning_kwargs(_with(path, value)) == {**BASE_KWARGS, **expected}


@pytest.mark.parametrize(
    "path, value",
    [
        ("TrainingJobDefinitions", [{"DefinitionName": "d"}]),
        ("Autotune", {"Mode": "Enabled"}),
        ("HyperParameterTuningJobConfig.TuningJobCompletionCriteria", {"TargetObjectiveMetricValue": 0.1}),
        ("HyperParameterTuningJobConfig.ParameterRanges.AutoParameters", [{"Name": "x", "ValueHint": "1"}]),
        ("TrainingJobDefinition.TuningObjective", {"Type": "Minimize", "MetricName": "loss"}),
        ("TrainingJobDefinition.HyperParameterRanges", {}),
        (
            "TrainingJobDefinition.HyperParameterTuningResourceConfig.InstanceConfigs",
            [{"InstanceType": "ml.c5.xlarge"}],
        ),
        ("TrainingJobDefinition.AlgorithmSpecification.AlgorithmName", "xgboost"),
        ("TrainingJobDefinition.AlgorithmSpecification.TrainingInputMode", "Pipe"),
        ("TrainingJobDefinition.RetryStrategy", {"MaximumRetryAttempts": 2}),
        ("TrainingJobDefinition.HyperParameters", {"a": "1"}),
        ("TrainingJobDefinition.AlgorithmSpecification.ContainerEntrypoint", ["python"]),
        ("HyperParameterTuningJobConfig.Unknown", 1),
    ],
)
def test_a_field_that_cannot_be_honoured_is_refused_by_name(path, value):
    with pytest.raises(SpecError) as raised:
        tuning_kwargs(_with(path, value))
    assert raised.value.parameter.startswith(path)


def test_a_request_without_a_training_definition_is_refused_by_name():
    request = {k: v for k, v in BASE.items() if k != "TrainingJobDefinition"}
    with pytest.raises(SpecError, match="TrainingJobDefinition: is missing"):
        tuning_kwargs(request)


def test_a_channel_without_its_uri_names_the_training_definition():
    request = _with("TrainingJobDefinition.InputDataConfig", [{"ChannelName": "train"}])
    with pytest.raises(SpecError, match=r"TrainingJobDefinition\.InputDataConfig\[0\]"):
        tuning_kwargs(request)


def test_every_field_of_botocores_input_shape_has_a_rule_or_an_ancestor_with_one_and_no_rule_is_of_another_shape():
    unruled, foreign = unruled_and_foreign("CreateHyperParameterTuningJob", TUNING_RULES)
    assert unruled == [] and foreign == []
