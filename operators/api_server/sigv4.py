"""Verify AWS Signature Version 4 on requests to our SageMaker-compatible API, as AWS verifies them: the signature
is computed again with botocore's own signer (canonical request, string to sign) from the secret of the access key
the request names, over exactly the headers it says it signed, and compared in constant time. The body is hashed
once and the signing key derived once per secret, day, region and service, as AWS SDKs do when they sign.
Unsigned, wrongly signed, stale or unknown-key requests are refused before anything runs.

Credentials live where the operator of the API says (an Airflow connection: login = access key id, password =
secret), as MinIO keeps its own for S3.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

MAX_SKEW_S = 300  # AWS refuses requests more than 5 minutes from its clock
_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<signed>[a-z0-9;\-]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)
_AMZ_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z")
SIGNING_KEYS_KEPT = 256  # derived keys (one per secret, day, region and service) kept, as AWS SDKs keep them


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
    expected = _signature(
        request, headers, signed, amz_date, match["key"], secret, match["region"], match["service"], body_sha
    )
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
    parts = _AMZ_DATE.fullmatch(amz_date)
    try:
        signed_at = datetime(*(int(part) for part in parts.groups()), tzinfo=UTC) if parts else None
    except ValueError:  # a month 13, a day 32...
        signed_at = None
    if signed_at is None:
        raise AuthError("IncompleteSignature", "X-Amz-Date is missing or not YYYYMMDDTHHMMSSZ")
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
    body_sha256: str,
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
    :param body_sha256: the hex SHA-256 of its body.
    """
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    token = headers.get("x-amz-security-token")
    aws_request = AWSRequest(
        method=request.method, url=request.url, headers={name: headers[name] for name in signed if name in headers}
    )
    aws_request.context["timestamp"] = amz_date
    signer = _signer_class()(Credentials(key, secret, token), service, region, body_sha256)
    canonical = signer.canonical_request(aws_request)
    return str(signer.signature(signer.string_to_sign(aws_request, canonical), aws_request))


@functools.cache
def _signer_class() -> type:
    """Return botocore's SigV4 signer given the body's digest (computed once, by verify) and a cached signing key."""
    from botocore.auth import SigV4Auth

    class KnownBodySigV4Auth(SigV4Auth):
        """botocore's SigV4Auth for a body whose SHA-256 is known; its signing key derived once per day.

        :param credentials: the credentials.
        :param service_name: the signing name.
        :param region_name: the scope's region.
        :param body_sha256: the hex SHA-256 of the body (what SigV4Auth.payload returns for a bytes body).
        """

        def __init__(self, credentials: Any, service_name: str, region_name: str, body_sha256: str) -> None:
            super().__init__(credentials, service_name, region_name)
            self.body_sha256 = body_sha256

        def payload(self, request: Any) -> str:
            return self.body_sha256

        def signature(self, string_to_sign: str, request: Any) -> str:
            scope = (self.credentials.secret_key, request.context["timestamp"][0:8], self._region_name)
            signing_key = _signing_key(*scope, self._service_name)
            return hmac.new(signing_key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()

    return KnownBodySigV4Auth


@functools.lru_cache(maxsize=SIGNING_KEYS_KEPT)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """Derive SigV4's signing key (kSigning) as botocore's SigV4Auth.signature does.

    :param secret: the secret access key.
    :param date: the scope's date (YYYYMMDD).
    :param region: the scope's region.
    :param service: the scope's service.
    """
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key
