"""Settle batch strategy, payload size and concurrency: the request's value, then the container's, then defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_BATCH_STRATEGY = "MultiRecord"
DEFAULT_MAX_PAYLOAD_MB = 6
DEFAULT_MAX_CONCURRENT_TRANSFORMS = 1
_STRATEGIES = {"MULTI_RECORD": "MultiRecord", "SINGLE_RECORD": "SingleRecord"}


@dataclass(frozen=True)
class ExecutionParameters:
    """What a transform actually uses.

    :param batch_strategy: ``MultiRecord`` or ``SingleRecord``.
    :param max_payload_mb: the most MB per request; 0 streams bodies of any size with chunked encoding.
    :param max_concurrent_transforms: requests in flight per instance.
    """

    batch_strategy: str
    max_payload_mb: int
    max_concurrent_transforms: int


def parse_container_answer(data: Any) -> dict[str, Any]:
    """Read a GET /execution-parameters answer, keeping only well-formed values.

    :param data: the parsed JSON body.
    """
    if not isinstance(data, Mapping):
        return {}
    found: dict[str, Any] = {}
    strategy = data.get("BatchStrategy")
    if isinstance(strategy, str):
        key = strategy.replace("-", "_").upper()
        found["batch_strategy"] = _STRATEGIES.get(key) or (strategy if strategy in _STRATEGIES.values() else None)
    for name, field, lowest in (
        ("MaxPayloadInMB", "max_payload_mb", 0),  # 0: bodies of any size, streamed with chunked encoding
        ("MaxConcurrentTransforms", "max_concurrent_transforms", 1),
    ):
        value = data.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and lowest <= value <= 100:
            found[field] = value
    return {k: v for k, v in found.items() if v is not None}


def resolve(
    batch_strategy: str | None,
    max_payload_mb: int | None,
    max_concurrent_transforms: int | None,
    container: Mapping[str, Any],
) -> ExecutionParameters:
    """Apply SageMaker's precedence: request value > container value > default.

    :param batch_strategy: the request's value, or None.
    :param max_payload_mb: the request's value (0 streams bodies of any size), or None.
    :param max_concurrent_transforms: the request's value, or None or 0 (both mean "ask the container").
    :param container: the container's answer, as parse_container_answer returns it.
    """
    concurrency = max_concurrent_transforms or container.get("max_concurrent_transforms")
    payload = next(
        v for v in (max_payload_mb, container.get("max_payload_mb"), DEFAULT_MAX_PAYLOAD_MB) if v is not None
    )
    concurrency = concurrency or DEFAULT_MAX_CONCURRENT_TRANSFORMS
    # The contract caps concurrency x payload at 100 MB; a container's own suggestion is trimmed to fit. Streamed
    # bodies (payload 0) hold no payload in memory, so nothing caps them.
    if payload:
        concurrency = max(1, min(concurrency, 100 // payload))
    return ExecutionParameters(
        batch_strategy=batch_strategy or container.get("batch_strategy") or DEFAULT_BATCH_STRATEGY,
        max_payload_mb=payload,
        max_concurrent_transforms=concurrency,
    )


def container_environment(spec: Any) -> dict[str, str]:
    """Return a transform container's environment: the user's, SAGEMAKER_BATCH, and the parameters the job sets.

    Parameters left to the container (None) are not said, so its /execution-parameters answer decides them;
    max_payload_mb 0 (streamed bodies) is said like any other value.

    :param spec: the TransformSpec.
    """
    environment = {**spec.environment, "SAGEMAKER_BATCH": "true"}
    spelled = {value: name for name, value in _STRATEGIES.items()}
    for name, value in (
        ("SAGEMAKER_MAX_PAYLOAD_IN_MB", spec.max_payload_mb),
        ("SAGEMAKER_BATCH_STRATEGY", spelled.get(spec.batch_strategy) if spec.batch_strategy else None),
        ("SAGEMAKER_MAX_CONCURRENT_TRANSFORMS", spec.max_concurrent_transforms),
    ):
        if value is not None:
            environment[name] = str(value)
    return environment
