"""What a caller of the API may not ask for, checked before anything is stored or started: locations outside S3
(the server's own files), execution roles the server was not told callers may pass, and names SageMaker refuses."""

from __future__ import annotations

import os
from collections.abc import Mapping

from ml_lifecycle.api_server.config import ApiConfig
from ml_lifecycle.api_server.errors import validation

ANY_ROLE = "*"


def check_locations(locations: Mapping[str, str], config: ApiConfig) -> None:
    """Refuse a location that is not in S3 (or under the configured local root), naming its parameter.

    :param locations: parameter -> URI, as a job kind lists them.
    :param config: the API's settings.
    """
    for parameter, uri in locations.items():
        if uri.startswith("s3://"):
            continue
        if config.local_root and uri.startswith("file://") and _under(uri[len("file://") :], config.local_root):
            continue
        where = f" or file:// under {config.local_root}" if config.local_root else ""
        raise validation(
            f"{parameter} {uri!r} is not an S3 location: the API accepts s3:// locations{where} (a caller may not "
            "read or write the server's own files)"
        )


def check_role(role_arn: str | None, config: ApiConfig, field: str) -> None:
    """Refuse an execution role that callers were not allowed to pass (SageMaker's iam:PassRole).

    :param role_arn: the role the request names, or None.
    :param config: the API's settings.
    :param field: the request field that names it (``RoleArn``, ``ExecutionRoleArn``).
    """
    if not role_arn or ANY_ROLE in config.allowed_role_arns or role_arn in config.allowed_role_arns:
        return
    raise validation(
        f"{field} {role_arn!r} may not be passed here: list it in ML_LIFECYCLE_API_ROLE_ARNS on the API server "
        "(the roles callers may pass, as SageMaker's iam:PassRole decides), or leave it out"
    )


def _under(path: str, root: str) -> bool:
    """Say whether a path is inside root once links are resolved.

    :param path: the path.
    :param root: the root folder.
    """
    real, base = os.path.realpath(path), os.path.realpath(root)
    return real == base or real.startswith(base.rstrip("/") + "/")
