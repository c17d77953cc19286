"""A built-in algorithm's own metrics: a training or tuning request for an image named as SageMaker's k-NN, with no
MetricDefinitions, gets k-NN's documented metrics, whose regexes read the lines the algorithm writes; given
MetricDefinitions and other images are left alone."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from core.test_sagemaker_training_request import BASE as TRAINING_REQUEST
from core.test_sagemaker_tuning_request import BASE as TUNING_REQUEST
from ml_lifecycle.core.sagemaker_api.builtin_metrics import algorithm_of, builtin_metric_definitions
from ml_lifecycle.core.sagemaker_api.training import training_kwargs
from ml_lifecycle.core.sagemaker_api.tuning import tuning_kwargs

AWS_KNN = "382416733822.dkr.ecr.us-east-1.amazonaws.com/knn:1"
REQUEST: dict[str, Any] = copy.deepcopy(TRAINING_REQUEST)
OWN = [{"Name": "loss", "Regex": "loss=([0-9.]+)"}]


@pytest.mark.parametrize(
    ("image_uri", "algorithm"),
    [
        (AWS_KNN, "knn"),
        ("174872318107.dkr.ecr.us-west-2.amazonaws.com/knn", "knn"),
        ("ml-lifecycle-test/knn:test", "knn"),
        ("127.0.0.1:5000/team/knn@sha256:" + "0" * 64, "knn"),
        ("127.0.0.1:5000/team/linear:1", "linear"),
        ("knn", "knn"),
    ],
)
def test_the_algorithm_is_the_last_segment_of_the_images_repository(image_uri, algorithm):
    assert algorithm_of(image_uri) == algorithm


@pytest.mark.parametrize(
    ("line", "name", "value"),
    [
        ("#test_score (algo-1) : ('accuracy', 0.9666666666666667)", "test:accuracy", 0.9666666666666667),
        ("#test_score (algo-2) : ('accuracy', 1.0)", "test:accuracy", 1.0),
        ("#test_score (algo-1) : ('mse', 12.5)", "test:mse", 12.5),
        ("#test_score (algo-1) : ('mse', 1.5e-05)", "test:mse", 1.5e-05),
    ],
)
def test_knns_metrics_read_the_score_line_the_algorithm_writes(line, name, value):
    matches = {
        d["Name"]: float(m.group(1)) for d in builtin_metric_definitions(AWS_KNN) if (m := re.search(d["Regex"], line))
    }
    assert matches == {name: value}


@pytest.mark.parametrize(
    ("image_uri", "given", "expected"),
    [
        (AWS_KNN, None, ["test:accuracy", "test:mse"]),
        ("ml-lifecycle-test/knn:test", None, ["test:accuracy", "test:mse"]),
        (AWS_KNN, OWN, ["loss"]),
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com/linear:1", None, None),
    ],
)
def test_a_training_request_without_metric_definitions_gets_the_built_in_algorithms(image_uri, given, expected):
    request = copy.deepcopy(REQUEST)
    request["AlgorithmSpecification"]["TrainingImage"] = image_uri
    if given is not None:
        request["AlgorithmSpecification"]["MetricDefinitions"] = given
    definitions = training_kwargs(request).get("metric_definitions")
    assert (None if definitions is None else [d["Name"] for d in definitions]) == expected


def test_a_tuning_request_for_knn_can_take_its_documented_metric_as_objective():
    request = copy.deepcopy(TUNING_REQUEST)
    request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["MetricName"] = "test:accuracy"
    request["TrainingJobDefinition"]["AlgorithmSpecification"] = {"TrainingImage": AWS_KNN, "TrainingInputMode": "File"}
    kwargs = tuning_kwargs(request)
    assert [d["Name"] for d in kwargs["metric_definitions"]] == ["test:accuracy", "test:mse"]
