"""Verify AWS Signature Version 4 on requests to our SageMaker-compatible API, as AWS verifies them: the signature
is computed again with botocore's own signer from the secret of the access key the request names, over exactly the
headers it says it signed, and compared in constant time. Unsigned, wrongly signed, stale or unknown-key requests
are refused before anything runs.

Credentials live where the operator of the API says (an Airflow connection: login = access key id, password =
secret), as MinIO keeps its own for S3.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

MAX_SKEW_S = 300  # AWS refuses requests more than 5 minutes from its clock
_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<signed>[a-z0-9;\-]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)


class AuthError(Exception):
    """A request is not authenticated; its code and status are AWS's for the same refusal.

    :param code: AWS's error code (``MissingAuthenticationToken``, ``SignatureDoesNotMatch``...).
    :param message: what is wrong.
    :param status: the HTTP status.
    """

    def __init__(self, code: str, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.code, self.status = code, status


@dataclass(frozen=True)
class IncomingRequest:
    """A request as the server received it.

    :param method: the HTTP method.
    :param url: the full URL the client used (scheme, host, path, query).
    :param headers: its headers (any case).
    :param body: its body.
    """

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class Caller:
    """Who signed a request.

    :param access_key_id: the access key.
    :param region: the region the request was signed for.
    :param service: the service it was signed for.
    """

    access_key_id: str
    region: str
    service: str


def verify(
    request: IncomingRequest,
    secret_for: Callable[[str], str | None],
    services: tuple[str, ...],
    now: datetime | None = None,
    must_sign: tuple[str, ...] = (),
) -> Caller:
    """Return who signed the request; raise AuthError (never anything else) when it is not properly signed.

    :param request: the request.
    :param secret_for: the secret of an access key id, or None for a key this server does not know.
    :param services: the signing names accepted (``sagemaker``, ``sagemaker-runtime``...).
    :param now: the server's time (for tests); now by default.
    :param must_sign: headers that, when present, must be among those signed.
    """
    headers = {name.lower(): value for name, value in request.headers.items()}
    authorization = headers.get("authorization", "")
    if not authorization:
        raise AuthError("MissingAuthenticationToken", "Missing Authentication Token: sign the request (SigV4)")
    match = _AUTHORIZATION.match(authorization.strip())
    if match is None:
        raise AuthError("IncompleteSignature", "The Authorization header is not an AWS4-HMAC-SHA256 signature")
    if match["service"] not in services:
        raise AuthError("InvalidSignatureException", f"Signed for {match['service']!r}, not {' or '.join(services)}")
    signed = match["signed"].split(";")
    if "host" not in signed or any(name not in headers for name in signed if name != "host"):
        raise AuthError("IncompleteSignature", "SignedHeaders must include host and name only headers present")
    unsigned = [name for name in must_sign if name in headers and name not in signed]
    if unsigned:
        raise AuthError("IncompleteSignature", f"SignedHeaders must include {', '.join(unsigned)}")
    amz_date = headers.get("x-amz-date", "")
    _check_clock(amz_date, match["date"], now or datetime.now(UTC))
    secret = secret_for(match["key"])
    if secret is None:
        raise AuthError("UnrecognizedClientException", "The security token included in the request is invalid")
    body_sha = hashlib.sha256(request.body).hexdigest()
    if headers.get("x-amz-content-sha256", body_sha) != body_sha:
        raise AuthError("SignatureDoesNotMatch", "The body does not match its X-Amz-Content-SHA256")
    expected = _signature(request, headers, signed, amz_date, match["key"], secret, match["region"], match["service"])
    if not hmac.compare_digest(expected, match["signature"]):
        raise AuthError(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
            "Access Key and signing method",
        )
    return Caller(match["key"], match["region"], match["service"])


def _check_clock(amz_date: str, scope_date: str, now: datetime) -> None:
    """Refuse a request signed too far from now, or whose scope date is not its X-Amz-Date's.

    :param amz_date: the X-Amz-Date header (``20261207T120000Z``).
    :param scope_date: the credential scope's date (``20261207``).
    :param now: the server's time.
    """
    try:
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise AuthError("IncompleteSignature", "X-Amz-Date is missing or not YYYYMMDDTHHMMSSZ") from None
    if amz_date[:8] != scope_date:
        raise AuthError("SignatureDoesNotMatch", "The credential scope's date is not the request's X-Amz-Date")
    if abs((now - signed_at).total_seconds()) > MAX_SKEW_S:
        raise AuthError("InvalidSignatureException", f"Signature expired: {amz_date} is more than 5 minutes from now")


def _signature(
    request: IncomingRequest,
    headers: Mapping[str, str],
    signed: list[str],
    amz_date: str,
    key: str,
    secret: str,
    region: str,
    service: str,
) -> str:
    """Compute the signature botocore would make for the request, over the headers it signed.

    :param request: the request.
    :param headers: its headers, lower-cased.
    :param signed: the names it signed.
    :param amz_date: its X-Amz-Date.
    :param key: the access key id.
    :param secret: the key's secret.
    :param region: the scope's region.
    :param service: the scope's service.
    """
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    token = headers.get("x-amz-security-token")
    aws_request = AWSRequest(
        method=request.method,
        url=request.url,
        headers={name: headers[name] for name in signed if name in headers},
        data=request.body,
    )
    aws_request.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(key, secret, token), service, region)
    canonical = signer.canonical_request(aws_request)
    return str(signer.signature(signer.string_to_sign(aws_request, canonical), aws_request))
