"""Where a job's containers run: the registry from a compute name to its backend, imported only when used.

A backend is one package and one line in BACKENDS; it is accepted when it passes the backend contract suite
(tests/contract). Nothing outside this module compares a compute name with a backend's name.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from ml_lifecycle.core.errors import SpecError

if TYPE_CHECKING:
    from ml_lifecycle.compute.base import Backend

BACKENDS: dict[str, str] = {
    "local": "ml_lifecycle.compute.local.backend.LocalBackend",
    "ec2": "ml_lifecycle.compute.ec2.backend.Ec2Backend",
}
DEFAULT_BACKEND = "local"


def backend_names() -> tuple[str, ...]:
    """Return the names a ``compute`` parameter accepts."""
    return tuple(BACKENDS)


def check_compute(value: Any) -> str:
    """Accept the name of a registered backend.

    :param value: the compute parameter.
    """
    if value not in BACKENDS:
        names = " or ".join(repr(name) for name in BACKENDS)
        raise SpecError("compute", f"{value!r} is not a compute backend", f"Write compute={names}")
    return str(value)


def backend_class(name: str) -> type[Backend]:
    """Import and return the backend class registered under a name.

    :param name: the compute name.
    """
    module, _, cls = BACKENDS[check_compute(name)].rpartition(".")
    return cast("type[Backend]", getattr(importlib.import_module(module), cls))


def backend_for(
    name: str, aws_conn_id: str | None = "aws_default", options: Mapping[str, Any] | None = None
) -> Backend:
    """Return the backend an operator runs on.

    :param name: the compute name (rendered).
    :param aws_conn_id: the Airflow AWS connection.
    :param options: the operator's backend-specific parameters; the backend reads those it knows.
    """
    return backend_class(name)(aws_conn_id, options)
