"""TuneOnEC2Operator checks its tuning settings when the DAG is parsed, and reads templated ones rendered as JSON."""

from __future__ import annotations

import json

import pytest

from ml_lifecycle import TuneOnEC2Operator
from ml_lifecycle.errors import SpecError

DEFINITION = {
    "image_uri": "ml-lifecycle/curve:dev",
    "channels": {"train": "file:///tmp/data"},
    "output_path": "file:///tmp/out",
    "metric_definitions": [{"Name": "loss", "Regex": r"loss=([0-9.]+)"}],
    "objective_metric_name": "loss",
}
RANGES = {"CategoricalParameterRanges": [{"Name": "opt", "Values": ["a", "b"]}]}


def test_a_bad_setting_fails_the_dag_at_parse_time_naming_it():
    with pytest.raises(SpecError, match="Grid searches categorical ranges only"):
        TuneOnEC2Operator(
            task_id="t",
            strategy="Grid",
            parameter_ranges={"IntegerParameterRanges": [{"Name": "n", "MinValue": 1, "MaxValue": 3}]},
            **DEFINITION,
        )


def test_templated_settings_wait_for_rendering_and_are_read_as_json():
    op = TuneOnEC2Operator(
        task_id="t", strategy="Grid", parameter_ranges="{{ params.ranges }}", max_training_jobs=None, **DEFINITION
    )
    op.parameter_ranges = json.dumps(RANGES)  # as Jinja renders it
    assert op.tuning_config().max_training_jobs == 2


def test_from_sagemaker_builds_the_operator_from_the_providers_tuning_config():
    config = {
        "HyperParameterTuningJobName": "curve-tuning",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Grid",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
            "ResourceLimits": {"MaxParallelTrainingJobs": 2},
            "ParameterRanges": RANGES,
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {"epochs": "3"},
            "AlgorithmSpecification": {
                "TrainingImage": DEFINITION["image_uri"],
                "TrainingInputMode": "File",
                "MetricDefinitions": DEFINITION["metric_definitions"],
            },
            "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {"S3Uri": "s3://b/data"}}}],
            "OutputDataConfig": {"S3OutputPath": "s3://b/out"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        },
    }

    op = TuneOnEC2Operator.from_sagemaker(config, task_id="tune", poll_interval_s=1)

    settings = op.tuning_config()
    assert (settings.strategy, settings.objective.type, settings.max_training_jobs) == ("Grid", "Minimize", 2)
    assert settings.max_parallel_training_jobs == 2 and settings.static_hyperparameters == {"epochs": "3"}
    assert (op.output_path, op.channels, op.poll_interval_s) == ("s3://b/out", {"train": {"uri": "s3://b/data"}}, 1)


def test_from_sagemaker_refuses_a_field_it_cannot_honour_by_name():
    with pytest.raises(SpecError, match="TrainingJobDefinitions"):
        TuneOnEC2Operator.from_sagemaker({"TrainingJobDefinitions": []}, task_id="tune")
