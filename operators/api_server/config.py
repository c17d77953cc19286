"""How the SageMaker-compatible API is set up: where jobs run, where its state is, whose credentials it accepts.

Read from the environment (the plugin and ``ml-lifecycle serve-api`` alike):

- ``ML_LIFECYCLE_API_COMPUTE``: the backend of the jobs and endpoints it creates (``local`` by default); a request
  overrides it with the tag ``ml-lifecycle:compute``.
- ``ML_LIFECYCLE_API_AWS_CONN_ID``: the Airflow AWS connection for ``s3://`` locations and EC2 (``aws_default``).
- ``ML_LIFECYCLE_API_CREDENTIALS_CONN_ID``: the Airflow connection whose login and password are the access key id
  and secret that callers sign with (``sagemaker_api``).
- ``ML_LIFECYCLE_API_STATE_ROOT``: where the API keeps what it was asked (``<artifact root>/sagemaker-api``).
- ``ML_LIFECYCLE_API_ACCOUNT_ID``: the account id in the ARNs it returns (``000000000000``).
- ``ML_LIFECYCLE_API_ROLE_ARNS``: the execution roles callers may pass (comma-separated; ``*`` for any the AWS
  connection can assume). SageMaker checks ``iam:PassRole``; here a role not listed is refused, as no caller may
  borrow a role Airflow can assume. None by default.
- ``ML_LIFECYCLE_API_LOCAL_ROOT``: a folder under which ``file://`` locations are accepted (none by default: only
  ``s3://``), so that no caller can mount or write the server's own files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

COMPUTE_TAG = "ml-lifecycle:compute"
DEFAULT_CREDENTIALS_CONN_ID = "sagemaker_api"


@dataclass(frozen=True)
class ApiConfig:
    """The API's settings.

    :param compute: the default backend of what it creates.
    :param aws_conn_id: the Airflow AWS connection for stores and EC2.
    :param credentials_conn_id: the Airflow connection holding the access key callers sign with.
    :param state_root: the URI under which its state lives.
    :param region: the region in ARNs and the one requests must be signed for.
    :param account_id: the account id in ARNs.
    :param backend_options: extra options given to every backend (tests shorten poll intervals with it).
    :param allowed_role_arns: the execution roles callers may pass (``*`` for any).
    :param local_root: the folder under which ``file://`` locations are accepted, or None for s3:// only.
    """

    compute: str
    aws_conn_id: str | None
    credentials_conn_id: str
    state_root: str
    region: str
    account_id: str
    backend_options: dict[str, Any] = field(default_factory=dict)
    allowed_role_arns: tuple[str, ...] = ()
    local_root: str | None = None

    @classmethod
    def from_environment(cls) -> ApiConfig:
        """Read the settings from the environment."""
        from ml_lifecycle import settings
        from ml_lifecycle.compute import check_compute

        return cls(
            compute=check_compute(os.environ.get("ML_LIFECYCLE_API_COMPUTE") or "local"),
            aws_conn_id=os.environ.get("ML_LIFECYCLE_API_AWS_CONN_ID") or "aws_default",
            credentials_conn_id=os.environ.get("ML_LIFECYCLE_API_CREDENTIALS_CONN_ID") or DEFAULT_CREDENTIALS_CONN_ID,
            state_root=os.environ.get("ML_LIFECYCLE_API_STATE_ROOT")
            or settings.default_artifact_root().rstrip("/") + "/sagemaker-api",
            region=settings.region(),
            account_id=os.environ.get("ML_LIFECYCLE_API_ACCOUNT_ID") or "000000000000",
            allowed_role_arns=tuple(
                arn.strip() for arn in (os.environ.get("ML_LIFECYCLE_API_ROLE_ARNS") or "").split(",") if arn.strip()
            ),
            local_root=os.environ.get("ML_LIFECYCLE_API_LOCAL_ROOT") or None,
        )

    def compute_for(self, request: dict[str, Any]) -> str:
        """Return the backend a Create request runs on: its ``ml-lifecycle:compute`` tag, else the default.

        :param request: the request.
        """
        from ml_lifecycle.compute import check_compute

        for tag in request.get("Tags") or []:
            if isinstance(tag, dict) and tag.get("Key") == COMPUTE_TAG:
                return check_compute(str(tag.get("Value", "")))
        return self.compute
