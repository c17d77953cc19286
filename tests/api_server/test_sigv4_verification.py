"""SigV4 verification of requests to our API: requests botocore signs pass; unsigned, tampered, wrongly signed,
stale, unknown-key and other-service requests are refused with AWS's error codes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ml_lifecycle.api_server.sigv4 import AuthError, IncomingRequest, verify

KEY, SECRET = "AKIAEXAMPLEKEY", "secret-of-the-example-key"
URL = "http://127.0.0.1:8080/"
SIGNED_AT = datetime(2026, 12, 7, 12, 0, 0, tzinfo=UTC)
BODY = json.dumps({"TrainingJobName": "j"}).encode()


def _signed(
    secret: str = SECRET, service: str = "sagemaker", token: str | None = None, **headers: str
) -> IncomingRequest:
    """Sign a SageMaker JSON 1.1 request with botocore, as any AWS client does; return it as the server sees it.

    :param secret: the secret to sign with.
    :param service: the signing name.
    :param token: a session token, or None.
    :param headers: more headers to sign.
    """
    request = AWSRequest(
        method="POST",
        url=URL,
        data=BODY,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "SageMaker.CreateTrainingJob",
            **headers,
        },
    )
    with mock.patch("botocore.auth.get_current_datetime", return_value=SIGNED_AT.replace(tzinfo=None)):
        SigV4Auth(Credentials(KEY, secret, token), service, "us-east-1").add_auth(request)
    return IncomingRequest("POST", URL, {**dict(request.headers.items()), "Host": "127.0.0.1:8080"}, BODY)


def _secret(key: str) -> str | None:
    """The server's credentials: one key.

    :param key: the access key id.
    """
    return SECRET if key == KEY else None


def _verify(request: IncomingRequest, now: datetime = SIGNED_AT) -> Any:
    """Verify as the API does.

    :param request: the request.
    :param now: the server's time.
    """
    return verify(request, _secret, ("sagemaker", "sagemaker-runtime"), now)


def test_a_request_botocore_signed_is_accepted_with_and_without_a_session_token():
    assert _verify(_signed()).access_key_id == KEY
    assert _verify(_signed(token="session-token")).region == "us-east-1"


def _tampered(change: str) -> IncomingRequest:
    """Return a signed request changed after signing.

    :param change: what to change.
    """
    request = _signed()
    if change == "body":
        return IncomingRequest(request.method, request.url, request.headers, BODY.replace(b'"j"', b'"k"'))
    if change == "target":
        return IncomingRequest(
            request.method, request.url, {**request.headers, "X-Amz-Target": "SageMaker.DeleteEndpoint"}, request.body
        )
    if change == "path":
        return IncomingRequest(request.method, URL + "other", request.headers, request.body)
    raise AssertionError(change)


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (IncomingRequest("POST", URL, {"X-Amz-Target": "SageMaker.CreateTrainingJob"}, BODY), "MissingAuthenticationToken"),
        (IncomingRequest("POST", URL, {"Authorization": "Bearer x"}, BODY), "IncompleteSignature"),
        (_tampered("body"), "SignatureDoesNotMatch"),
        (_tampered("target"), "SignatureDoesNotMatch"),
        (_tampered("path"), "SignatureDoesNotMatch"),
        (_signed(secret="not-the-secret"), "SignatureDoesNotMatch"),
        (_signed(service="s3"), "InvalidSignatureException"),
    ],
    ids=["unsigned", "not-sigv4", "body-changed", "target-changed", "path-changed", "wrong-secret", "other-service"],
)  # fmt: skip
def test_a_request_that_is_not_properly_signed_is_refused_with_awss_code(request_, code):
    with pytest.raises(AuthError) as refused:
        _verify(request_)
    assert refused.value.code == code and refused.value.status == 403


def test_a_key_the_server_does_not_know_is_refused():
    request = _signed()
    headers = {**request.headers, "Authorization": request.headers["Authorization"].replace(KEY, "AKIAOTHER")}
    with pytest.raises(AuthError) as refused:
        _verify(IncomingRequest(request.method, request.url, headers, request.body))
    assert refused.value.code == "UnrecognizedClientException"


@pytest.mark.parametrize("offset_s", [-301, 301])
def test_a_request_signed_more_than_five_minutes_from_the_servers_clock_is_refused(offset_s):
    with pytest.raises(AuthError, match="expired"):
        _verify(_signed(), SIGNED_AT + timedelta(seconds=offset_s))


def test_a_secret_changed_after_a_request_was_accepted_refuses_the_next_one():
    request = _signed()
    assert _verify(request).access_key_id == KEY  # the old secret's signing key is derived and kept
    with pytest.raises(AuthError) as refused:
        verify(request, lambda key: "the-rotated-secret", ("sagemaker",), SIGNED_AT)
    assert refused.value.code == "SignatureDoesNotMatch"


@pytest.mark.parametrize("amz_date", ["20261207T120000", "20261307T120000Z", "2026127T120000Z", ""])
def test_an_x_amz_date_that_is_not_a_utc_timestamp_is_refused(amz_date):
    request = _signed()
    with pytest.raises(AuthError) as refused:
        _verify(IncomingRequest(request.method, request.url, {**request.headers, "X-Amz-Date": amz_date}, request.body))
    assert refused.value.code == "IncompleteSignature"
