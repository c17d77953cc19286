"""Turning an AWS service's refusal (a botocore ClientError) into a ComputeError that names the action and the service."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ml_lifecycle.errors import ComputeError


@contextmanager
def refusals_of(service: str, what: str, retryable_codes: frozenset[str]) -> Iterator[None]:
    """Translate a ClientError raised inside the block into a ComputeError, retryable for the codes given.

    :param service: the service's name, for the message (``Elastic Load Balancing``).
    :param what: the action, for the message (``creating the load balancer``).
    :param retryable_codes: error codes that a later try may get past (throttling, unavailability).
    """
    from botocore.exceptions import ClientError

    try:
        yield
    except ClientError as err:
        error = err.response.get("Error", {})
        code, message = error.get("Code", ""), error.get("Message", "")
        raise ComputeError(f"{service} refused {what}: {code}: {message}", retryable=code in retryable_codes) from err
