"""The execution role (SageMaker's RoleArn): checked names, session names, and the credentials document containers read.

Containers on the local engine get the role's short-lived credentials the way ECS tasks do: the default credential
chain of every AWS SDK reads ``AWS_CONTAINER_CREDENTIALS_FULL_URI`` with the token of
``AWS_CONTAINER_AUTHORIZATION_TOKEN`` and expects the document credentials_document returns.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ml_lifecycle.core.errors import SpecError

ROLE_ARN = re.compile(r"arn:aws(?:-cn|-us-gov)?:iam::\d{12}:role/(?:[\w+=,.@-]+/)*(?P<name>[\w+=,.@-]{1,64})")
SESSION_NAME_CHARS = re.compile(r"[^\w+=,.@-]")
SESSION_NAME_MAX = 64
# What SDKs accept as a credentials endpoint over plain HTTP besides loopback (botocore's ContainerMetadataFetcher).
CREDENTIALS_HOST = "169.254.170.2"
CREDENTIALS_ENV = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
TOKEN_ENV = "AWS_CONTAINER_AUTHORIZATION_TOKEN"
# Credentials are renewed when they have less than this left: SDKs refresh theirs 15 min before expiry (botocore's
# advisory window), so a container never gets credentials it would refuse as too short.
REFRESH_MARGIN_S = 20 * 60
ROLE_DURATION_S = 3600  # STS's default and the shortest role maximum
KEY_VARIABLES = frozenset({"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"})
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def check_role_arn(value: Any, parameter: str = "role_arn") -> str | None:
    """Return a role ARN as given (None or "" for none), or raise SpecError saying what to write.

    :param value: the ARN.
    :param parameter: the parameter, for the error.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not ROLE_ARN.fullmatch(value.strip()):
        raise SpecError(
            parameter,
            f"{value!r} is not an IAM role ARN",
            "Write arn:aws:iam::<12-digit account>:role/<name> (SageMaker's RoleArn)",
        )
    return value.strip()


def role_name(role_arn: str) -> str:
    """Return the role's name (the last part of its path).

    :param role_arn: a checked role ARN.
    """
    match = ROLE_ARN.fullmatch(role_arn)
    if match is None:
        raise SpecError("role_arn", f"{role_arn!r} is not an IAM role ARN", "Check it with check_role_arn first")
    return match["name"]


def session_name(job_name: str) -> str:
    """Return the STS role session name of a job (CloudTrail shows it): the job name in STS's alphabet.

    :param job_name: the job's name.
    """
    cleaned = SESSION_NAME_CHARS.sub("-", job_name)[:SESSION_NAME_MAX]
    return cleaned if len(cleaned) >= 2 else f"ml-lifecycle-{cleaned}"


def credentials_document(credentials: dict[str, Any], role_arn: str) -> dict[str, str]:
    """Return STS credentials as the container credentials endpoint serves them (ECS's document).

    :param credentials: AssumeRole's ``Credentials`` (AccessKeyId, SecretAccessKey, SessionToken, Expiration).
    :param role_arn: the role.
    """
    return {
        "AccessKeyId": credentials["AccessKeyId"],
        "SecretAccessKey": credentials["SecretAccessKey"],
        "Token": credentials["SessionToken"],
        "Expiration": iso_utc(credentials["Expiration"]),
        "RoleArn": role_arn,
    }


def iso_utc(moment: datetime | str) -> str:
    """Return a moment in ISO 8601 UTC with a Z, as the endpoint serves Expiration.

    :param moment: a datetime (naive means UTC) or an ISO string.
    """
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def needs_refresh(expiration: datetime | str | None, now_epoch_s: float, margin_s: float = REFRESH_MARGIN_S) -> bool:
    """Say whether credentials expiring at expiration must be renewed before they are served.

    :param expiration: their expiry, or None when there are none yet.
    :param now_epoch_s: the time now.
    :param margin_s: how long before expiry they are renewed.
    """
    if expiration is None:
        return True
    expires_s = datetime.fromisoformat(iso_utc(expiration).replace("Z", "+00:00")).timestamp()
    return expires_s - now_epoch_s < margin_s


def container_endpoint_url(endpoint_url: str, gateway: str) -> str:
    """Return an S3-compatible endpoint as a container reaches it: a loopback host becomes the engine's gateway.

    :param endpoint_url: the connection's endpoint URL.
    :param gateway: the address containers reach the engine's machine at.
    """
    parts = urlsplit(endpoint_url)
    if (parts.hostname or "") not in LOOPBACK_HOSTS and f"[{parts.hostname}]" not in LOOPBACK_HOSTS:
        return endpoint_url
    netloc = gateway + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def check_role_environment(role_arn: str | None, *names: Any) -> None:
    """Refuse access keys in a job's environment or secrets when it has a role: SDKs read them before the role's.

    :param role_arn: the execution role, or None.
    :param names: the environment's and the secrets' names (mappings or iterables of names).
    """
    if not role_arn:
        return
    shadowing = sorted({n for group in names for n in group if n in KEY_VARIABLES})
    if shadowing:
        raise SpecError(
            "environment",
            f"sets {', '.join(shadowing)} beside role_arn: every AWS SDK reads these before the role's credentials",
            "Drop them (the containers get the role's credentials), or drop role_arn",
        )
