"""The base of our extra links: a URL built from the XComs a task pushed and from the rendered operator.

Airflow 3 runs no user code in the API server: when a task ends, the worker calls each link's ``get_link`` and
stores the URL in XCom, where the UI reads it. Our links build the URL from the XComs the operator pushed
(every key of its result) and from the rendered operator, so the operators need no extra code to persist them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from airflow.sdk import BaseOperatorLink


def region() -> str:
    """Return the AWS region the console URLs name."""
    from ml_lifecycle import settings

    return settings.region()


class LifecycleLink(BaseOperatorLink):
    """A link built from the XComs a task pushed; subclasses say which keys and how to make the URL."""

    name: ClassVar[str] = ""
    keys: ClassVar[tuple[str, ...]] = ()

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        """Read the task's XComs and return the URL, or "" when there is nothing to link to.

        :param operator: the task's operator (rendered).
        :param ti_key: the task instance.
        """
        from airflow.sdk.execution_time.xcom import XCom

        values = {key: XCom.get_value(ti_key=ti_key, key=key) for key in self.keys}
        return self.url(operator, {k: v for k, v in values.items() if v is not None})

    def url(self, operator: Any, values: Mapping[str, Any]) -> str:
        """Return the URL from the operator and its XCom values.

        :param operator: the task's operator.
        :param values: XCom key -> value, for the keys that were pushed.
        """
        raise NotImplementedError
