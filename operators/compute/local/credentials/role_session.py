"""Short-lived credentials of a job's execution role, assumed through the Airflow AWS connection and renewed in time."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.roles import ROLE_DURATION_S, credentials_document, needs_refresh


class RoleUnavailable(SpecError):
    """The execution role could not be assumed; raised before anything starts."""


class RoleSession:
    """Assumes a role once and again before its credentials run out; thread-safe.

    :param sts: returns an STS client with the connection's credentials (safe to call in a forked agent).
    :param role_arn: the role.
    :param session_name: the STS session name (the job's).
    :param duration_s: how long each set of credentials lasts.
    """

    def __init__(
        self, sts: Callable[[], Any], role_arn: str, session_name: str, duration_s: int = ROLE_DURATION_S
    ) -> None:
        self.sts = sts
        self.role_arn = role_arn
        self.session_name = session_name
        self.duration_s = duration_s
        self._lock = threading.Lock()
        self._document: dict[str, str] | None = None
        self.renewals = 0

    def __repr__(self) -> str:
        """Name the role, never the credentials."""
        return f"RoleSession(role_arn={self.role_arn!r}, session_name={self.session_name!r})"

    def document(self) -> dict[str, str]:
        """Return the credentials document, assuming the role again when the last credentials are about to expire."""
        with self._lock:
            expiration = self._document["Expiration"] if self._document else None
            if needs_refresh(expiration, time.time()):
                self._document = credentials_document(self._assume(), self.role_arn)
                self.renewals += 1
            return dict(self._document)  # type: ignore[arg-type]

    def _assume(self) -> dict[str, Any]:
        """Call AssumeRole; raise RoleUnavailable naming the role and what to allow."""
        try:
            answer = self.sts().assume_role(
                RoleArn=self.role_arn, RoleSessionName=self.session_name, DurationSeconds=self.duration_s
            )
        except Exception as err:  # botocore raises ClientError, NoCredentialsError, EndpointConnectionError, ...
            first_line = (str(err).splitlines() or [""])[0][:300]
            raise RoleUnavailable(
                "role_arn",
                f"{self.role_arn} could not be assumed through the Airflow AWS connection "
                f"({type(err).__name__}: {first_line})",
                "Let the connection's identity call sts:AssumeRole on it, and the role trust that identity",
            ) from None
        return dict(answer["Credentials"])
