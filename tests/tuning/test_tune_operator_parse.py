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
