"""The base of our operators: each returns a small JSON-safe dict whose keys are also separate XComs."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator


class LifecycleOperator(BaseOperator):
    """Pushes every key of the returned dict as its own XCom, so ``task.output["model_uri"]`` works downstream.

    :param multiple_outputs: push each key as an XCom as well as the whole dict; default True.
    """

    def __init__(self, *, multiple_outputs: bool = True, **kwargs: Any) -> None:
        super().__init__(multiple_outputs=multiple_outputs, **kwargs)
