"""Signing a request to an IAM-authenticated endpoint (SigV4 for ``execute-api``), with the caller's AWS credentials."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ml_lifecycle.errors import ComputeError

SERVICE = "execute-api"


def caller_credentials(aws_conn_id: str | None) -> Any:
    """Return the credentials to sign with, frozen: the Airflow AWS connection's, or boto3's default chain for None.

    :param aws_conn_id: the Airflow AWS connection, or None.
    """
    return _credentials(aws_conn_id).get_frozen_credentials()


def signing_credentials(aws_conn_id: str | None) -> Callable[[], Any]:
    """Return a source of frozen credentials to sign with, resolved at its first call and kept (botocore renews
    temporary ones before they expire), for a server that signs many requests.

    :param aws_conn_id: the Airflow AWS connection, or None for boto3's default chain.
    """
    kept: list[Any] = []

    def frozen() -> Any:
        if not kept:
            kept.append(_credentials(aws_conn_id))
        return kept[0].get_frozen_credentials()

    return frozen


def _credentials(aws_conn_id: str | None) -> Any:
    """Return the session credentials of the Airflow AWS connection, or of boto3's default chain for None.

    :param aws_conn_id: the Airflow AWS connection, or None.
    """
    if aws_conn_id:
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

        credentials = AwsBaseHook(aws_conn_id=aws_conn_id).get_session().get_credentials()
    else:
        import boto3

        credentials = boto3.session.Session().get_credentials()
    if credentials is None:
        raise ComputeError(
            "The endpoint requires IAM-signed requests and no AWS credentials were found to sign with. Set "
            "AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or give --aws-conn-id"
        )
    return credentials


def signed_headers(
    method: str, url: str, body: bytes, headers: Mapping[str, str], region: str, credentials: Any
) -> dict[str, str]:
    """Return the headers of a request signed with SigV4 for API Gateway (``execute-api``) in a region.

    :param method: the HTTP method.
    :param url: the full URL the request goes to.
    :param body: the request body.
    :param headers: the headers to send (they are signed too).
    :param region: the API's region.
    :param credentials: botocore credentials (caller_credentials).
    """
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    SigV4Auth(credentials, SERVICE, region).add_auth(request)
    return dict(request.headers.items())
