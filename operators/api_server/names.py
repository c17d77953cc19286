"""SageMaker's resource names: 1-63 letters, digits and hyphens, starting and ending with a letter or digit."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ml_lifecycle.api_server.errors import validation

NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


def name_in(request: Mapping[str, Any], field: str) -> str:
    """Return the name a request gives in a field, checked as SageMaker checks it.

    :param request: the request.
    :param field: the field (``TrainingJobName``).
    """
    name = request.get(field)
    if not isinstance(name, str) or not NAME.match(name):
        raise validation(
            f"{field} {name!r} is not 1-63 letters, digits and hyphens, starting and ending with a letter or digit"
        )
    return name
