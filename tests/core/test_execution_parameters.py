"""Execution parameters: request value > container value > default, and concurrency x payload <= 100 MB."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_lifecycle.core.execution_parameters import ExecutionParameters, parse_container_answer, resolve

PROPERTY = settings(deadline=None, max_examples=300)


@pytest.mark.parametrize(
    ("answer", "parsed"),
    [
        pytest.param(
            {"MaxConcurrentTransforms": 8, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 6},
            {"batch_strategy": "MultiRecord", "max_payload_mb": 6, "max_concurrent_transforms": 8},
            id="developer-guide-example",
        ),
        pytest.param({"BatchStrategy": "MultiRecord"}, {"batch_strategy": "MultiRecord"}, id="MultiRecord"),
        pytest.param({"BatchStrategy": "MULTI_RECORD"}, {"batch_strategy": "MultiRecord"}, id="MULTI_RECORD"),
        pytest.param({"BatchStrategy": "SingleRecord"}, {"batch_strategy": "SingleRecord"}, id="SingleRecord"),
        pytest.param({"BatchStrategy": "SINGLE_RECORD"}, {"batch_strategy": "SingleRecord"}, id="SINGLE_RECORD"),
        pytest.param({"BatchStrategy": "single-record"}, {"batch_strategy": "SingleRecord"}, id="single-record"),
        pytest.param({"BatchStrategy": "bogus"}, {}, id="unknown-strategy-dropped"),
        pytest.param({"BatchStrategy": 1}, {}, id="non-string-strategy-dropped"),
        pytest.param({"MaxPayloadInMB": 100}, {"max_payload_mb": 100}, id="payload-100-kept"),
        pytest.param({"MaxPayloadInMB": 0}, {"max_payload_mb": 0}, id="payload-0-kept-streams"),
        pytest.param({"MaxPayloadInMB": -1}, {}, id="payload-negative-dropped"),
        pytest.param({"MaxPayloadInMB": 101}, {}, id="payload-101-dropped"),
        pytest.param({"MaxPayloadInMB": "6"}, {}, id="payload-string-dropped"),
        pytest.param({"MaxPayloadInMB": 6.0}, {}, id="payload-float-dropped"),
        pytest.param({"MaxPayloadInMB": True}, {}, id="payload-bool-dropped"),
        pytest.param({"MaxConcurrentTransforms": 0}, {}, id="concurrency-0-dropped"),
        pytest.param({"MaxConcurrentTransforms": -2}, {}, id="concurrency-negative-dropped"),
        pytest.param({"MaxConcurrentTransforms": 100}, {"max_concurrent_transforms": 100}, id="concurrency-100-kept"),
        pytest.param({"Other": 1}, {}, id="unrelated-keys"),
        pytest.param(None, {}, id="none"),
        pytest.param([1, 2], {}, id="list"),
        pytest.param("MULTI_RECORD", {}, id="string"),
    ],
)
def test_parse_container_answer(answer: Any, parsed: dict[str, Any]) -> None:
    assert parse_container_answer(answer) == parsed


@pytest.mark.parametrize(
    ("request_values", "container", "expected"),
    [
        pytest.param((None, None, None), {}, ("MultiRecord", 6, 1), id="defaults"),
        pytest.param(
            ("SingleRecord", 10, 2),
            {"batch_strategy": "MultiRecord", "max_payload_mb": 20, "max_concurrent_transforms": 4},
            ("SingleRecord", 10, 2),
            id="request-beats-container",
        ),
        pytest.param(
            (None, None, None),
            {"batch_strategy": "SingleRecord", "max_payload_mb": 20, "max_concurrent_transforms": 4},
            ("SingleRecord", 20, 4),
            id="container-beats-default",
        ),
        pytest.param(
            (None, None, 0), {"max_concurrent_transforms": 5}, ("MultiRecord", 6, 5), id="zero-asks-container"
        ),
        pytest.param(
            (None, 8, None),
            {"max_payload_mb": 20, "max_concurrent_transforms": 4},
            ("MultiRecord", 8, 4),
            id="per-field-precedence",
        ),
        pytest.param(
            (None, None, None),
            {"max_payload_mb": 50, "max_concurrent_transforms": 8},
            ("MultiRecord", 50, 2),
            id="container-concurrency-trimmed-to-100mb",
        ),
        pytest.param(
            (None, 30, None),
            {"max_concurrent_transforms": 8},
            ("MultiRecord", 30, 3),
            id="request-payload-trims-container",
        ),
        pytest.param((None, 100, None), {"max_concurrent_transforms": 8}, ("MultiRecord", 100, 1), id="payload-100"),
        pytest.param((None, None, 50), {}, ("MultiRecord", 6, 16), id="request-concurrency-trimmed-by-default-payload"),
        pytest.param((None, 10, 10), {}, ("MultiRecord", 10, 10), id="request-product-exactly-100"),
        pytest.param((None, 0, 8), {}, ("MultiRecord", 0, 8), id="request-payload-0-streams-uncapped"),
        pytest.param((None, 0, None), {"max_payload_mb": 20}, ("MultiRecord", 0, 1), id="request-0-beats-container"),
        pytest.param((None, None, None), {"max_payload_mb": 0}, ("MultiRecord", 0, 1), id="container-0-streams"),
        pytest.param((None, 6, None), {"max_payload_mb": 0}, ("MultiRecord", 6, 1), id="request-6-beats-container-0"),
    ],
)
def test_resolve(
    request_values: tuple[Any, Any, Any], container: dict[str, Any], expected: tuple[str, int, int]
) -> None:
    assert resolve(*request_values, container) == ExecutionParameters(*expected)


def test_container_answer_through_resolve() -> None:
    container = parse_container_answer(
        {"MaxConcurrentTransforms": 8, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 6}
    )
    assert resolve(None, None, None, container) == ExecutionParameters("MultiRecord", 6, 8)


STRATEGY = st.sampled_from([None, "MultiRecord", "SingleRecord"])
ANSWER_STRATEGY = st.sampled_from(["MULTI_RECORD", "SINGLE_RECORD", "MultiRecord", "SingleRecord", "nonsense"])


@given(
    STRATEGY,
    st.one_of(st.none(), st.integers(min_value=0, max_value=100)),
    st.one_of(st.none(), st.integers(min_value=0, max_value=100)),
    st.fixed_dictionaries(
        {},
        optional={
            "BatchStrategy": ANSWER_STRATEGY,
            "MaxPayloadInMB": st.integers(min_value=-5, max_value=200),
            "MaxConcurrentTransforms": st.integers(min_value=-5, max_value=200),
        },
    ),
)
@PROPERTY
def test_resolve_always_within_limits(
    strategy: str | None, payload: int | None, concurrency: int | None, answer: dict[str, Any]
) -> None:
    container = parse_container_answer(answer)
    result = resolve(strategy, payload, concurrency, container)
    assert result.batch_strategy in ("MultiRecord", "SingleRecord")
    assert 0 <= result.max_payload_mb <= 100
    assert result.max_concurrent_transforms >= 1
    assert result.max_concurrent_transforms * result.max_payload_mb <= 100
    if strategy:
        assert result.batch_strategy == strategy
    if payload is not None:
        assert result.max_payload_mb == payload
    elif "max_payload_mb" in container:
        assert result.max_payload_mb == container["max_payload_mb"]
    else:
        assert result.max_payload_mb == 6
    if concurrency and concurrency * result.max_payload_mb <= 100:
        assert result.max_concurrent_transforms == concurrency
