"""The metrics SageMaker's built-in algorithms define for themselves: a training or tuning request that runs one
gives no MetricDefinitions, yet tunes on (and reports) the algorithm's documented metrics, such as k-NN's
``test:accuracy``. Here the image stands in for the algorithm, so an image whose repository is named as the
algorithm's own (``.../knn``, like AWS's ``<account>.dkr.ecr.<region>.amazonaws.com/knn:1`` and the open stand-in
examples/containers/knn) gets the algorithm's metrics, read from the log lines the algorithm writes.
"""

from __future__ import annotations

from typing import Any

NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"

# The algorithm (its repository's last segment) -> its metric definitions, as its log lines show them.
BUILTIN_METRIC_DEFINITIONS: dict[str, tuple[dict[str, str], ...]] = {
    "knn": (
        {"Name": "test:accuracy", "Regex": rf"#test_score \(algo-\d+\) : \('accuracy', {NUMBER}\)"},
        {"Name": "test:mse", "Regex": rf"#test_score \(algo-\d+\) : \('mse', {NUMBER}\)"},
    ),
}


def algorithm_of(image_uri: str) -> str:
    """Return the last segment of an image's repository (``knn`` for ``123.dkr.ecr.r.amazonaws.com/knn:1``).

    :param image_uri: the image reference, with a tag or digest or neither.
    """
    repository = image_uri.split("@", 1)[0]
    last = repository.rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


def builtin_metric_definitions(image_uri: Any) -> list[dict[str, str]]:
    """Return the metric definitions of the built-in algorithm an image is named as, or none.

    :param image_uri: the training image (any value; what is not a string names no algorithm).
    """
    if not isinstance(image_uri, str):
        return []
    return [dict(d) for d in BUILTIN_METRIC_DEFINITIONS.get(algorithm_of(image_uri), ())]
