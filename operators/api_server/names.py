"""SageMaker's resource names: 1-63 letters, digits and hyphens, starting and ending with a letter or digit, unique
whatever their case (their ARNs are lower-case)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from ml_lifecycle.api_server.errors import validation

MAX_NAME_CHARS = 63
NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")


def name_in(request: Mapping[str, Any], field: str) -> str:
    """Return the name a request gives in a field, checked as SageMaker checks it.

    :param request: the request.
    :param field: the field (``TrainingJobName``).
    """
    name = request.get(field)
    if not isinstance(name, str) or len(name) > MAX_NAME_CHARS or not NAME.match(name):
        raise validation(
            f"{field} {name!r} is not 1-63 letters, digits and hyphens, starting and ending with a letter or digit"
        )
    return name


def key_of(name: str) -> str:
    """Return where a resource is kept in the API's state: its name in lower case (names differ by more than case).

    :param name: a checked name.
    """
    return name.lower()


def backend_job_name(prefix: str, name: str) -> str:
    """Return a job's name on the backend: prefix and name, shortened with a digest when over 63 characters.

    :param prefix: the kind's prefix ("" keeps the name).
    :param name: the job's name in the API.
    """
    full = prefix + name
    if len(full) <= MAX_NAME_CHARS:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:8]
    return f"{full[: MAX_NAME_CHARS - 9].rstrip('-')}-{digest}"
