"""MetricScanner: the first capturing group of each regex, as a final value and as a series."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_lifecycle.core.metrics import MetricScanner

PROPERTY = settings(deadline=None, max_examples=200)


def test_final_values_and_series() -> None:
    scanner = MetricScanner([("train:loss", r"loss=([0-9.]+)"), ("validation:acc", r"acc=([0-9.]+)")])
    scanner.scan("epoch 1 loss=0.75 acc=0.5", 1.0)
    scanner.scan("some unrelated line", 1.5)
    scanner.scan("epoch 2 loss=0.25", 2.12345)
    scanner.scan("final acc=0.9", 3.0)
    assert scanner.final() == {"train:loss": 0.25, "validation:acc": 0.9}
    assert scanner.series == {
        "train:loss": [[1.0, 0.75], [2.123, 0.25]],
        "validation:acc": [[1.0, 0.5], [3.0, 0.9]],
    }


def test_metric_never_seen_is_absent_from_final() -> None:
    scanner = MetricScanner([("rmse", r"rmse=(\S+)"), ("mae", r"mae=(\S+)")])
    scanner.scan("rmse=1.5", 0.0)
    assert scanner.final() == {"rmse": 1.5}
    assert scanner.series["mae"] == []


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param("loss=abc", [], id="word"),
        pytest.param("loss=nan", [], id="nan"),
        pytest.param("loss=inf", [], id="inf"),
        pytest.param("loss=-inf", [], id="minus-inf"),
        pytest.param("loss=", [], id="empty-capture"),
        pytest.param("loss=1e-3", [0.001], id="scientific"),
        pytest.param("loss=-2.5", [-2.5], id="negative"),
        pytest.param("loss=7", [7.0], id="integer"),
        pytest.param("loss=abc loss=0.5", [0.5], id="non-numeric-then-numeric"),
        pytest.param("loss=1 loss=2 loss=3", [1.0, 2.0, 3.0], id="every-match-on-a-line"),
    ],
)
def test_captured_values(line: str, expected: list[float]) -> None:
    scanner = MetricScanner([("loss", r"loss=(\S*)")])
    scanner.scan(line, 0.0)
    assert [value for _, value in scanner.series["loss"]] == expected


def test_sagemaker_style_lazy_regex() -> None:
    scanner = MetricScanner([("train:error", "Train_error=(.*?);")])
    scanner.scan("#quality_metric: host=algo-1, Train_error=0.138;", 4.0)
    assert scanner.final() == {"train:error": 0.138}


def test_first_group_is_the_value() -> None:
    scanner = MetricScanner([("loss", r"(loss)=([0-9.]+)"), ("acc", r"acc(=)?([0-9.]+)")])
    scanner.scan("loss=0.5 acc0.9", 0.0)
    assert scanner.final() == {}


def test_group_that_did_not_take_part_is_ignored() -> None:
    scanner = MetricScanner([("loss", r"loss=(\d+)?")])
    scanner.scan("loss=", 0.0)
    scanner.scan("loss=4", 1.0)
    assert scanner.series["loss"] == [[1.0, 4.0]]


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=30))
@PROPERTY
def test_series_holds_every_value_and_final_is_the_last(values: list[float]) -> None:
    scanner = MetricScanner([("m", r"m=(\S+)")])
    for second, value in enumerate(values):
        scanner.scan(f"step {second} m={value!r}", float(second))
    assert scanner.series["m"] == [[float(i), v] for i, v in enumerate(values)]
    assert scanner.final() == {"m": values[-1]}
