"""The credentials endpoint as SDKs use it: botocore's own container provider reads it; a wrong token gets nothing;
credentials are assumed again before they would expire, and a failing renewal is an error the SDK sees."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.credentials import ContainerProvider

from ml_lifecycle.compute.local.credentials.role_session import RoleSession, RoleUnavailable
from ml_lifecycle.compute.local.credentials.server import CredentialServer, check_credentials_address, serving
from ml_lifecycle.core.errors import SpecError

ROLE_ARN = "arn:aws:iam::123456789012:role/r"


def _address_or_skip() -> None:
    """Skip where the credentials address is not on this machine (scripts/bootstrap.sh credentials adds it)."""
    try:
        check_credentials_address()
    except SpecError as err:
        if __import__("os").environ.get("CI"):
            pytest.fail(str(err))
        pytest.skip(str(err))


class Sts:
    """Stands in for boto3's STS client (an AWS edge): each AssumeRole answers credentials lasting lifetime_s."""

    def __init__(self, lifetime_s: float, fail: bool = False) -> None:
        self.lifetime_s = lifetime_s
        self.fail = fail
        self.calls: list[dict[str, Any]] = []

    def assume_role(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.fail:
            raise RuntimeError("AccessDenied: not allowed to assume\nsecond line")
        n = len(self.calls)
        return {
            "Credentials": {
                "AccessKeyId": f"ASIAKEY{n}",
                "SecretAccessKey": f"secret-{n}",
                "SessionToken": f"token-{n}",
                "Expiration": datetime.now(UTC) + timedelta(seconds=self.lifetime_s),
            }
        }


def test_botocore_reads_the_role_credentials_from_the_endpoint():
    _address_or_skip()
    sts = Sts(lifetime_s=3600)
    session = RoleSession(lambda: sts, ROLE_ARN, "job-1")
    with serving(session.document) as environment:
        credentials = ContainerProvider(environ=environment).load()
    assert credentials.method == "container-role"
    frozen = credentials.get_frozen_credentials()
    assert (frozen.access_key, frozen.secret_key, frozen.token) == ("ASIAKEY1", "secret-1", "token-1")
    assert sts.calls == [{"RoleArn": ROLE_ARN, "RoleSessionName": "job-1", "DurationSeconds": 3600}]


def test_credentials_close_to_expiry_are_assumed_again_and_fresh_ones_are_reused():
    sts = Sts(lifetime_s=10 * 60)  # inside the renewal margin: every read renews
    session = RoleSession(lambda: sts, ROLE_ARN, "job-1")
    first, second = session.document(), session.document()
    assert (first["AccessKeyId"], second["AccessKeyId"]) == ("ASIAKEY1", "ASIAKEY2")
    lasting = RoleSession(lambda: Sts(lifetime_s=3600), ROLE_ARN, "job-2")
    assert lasting.document() == lasting.document() and lasting.renewals == 1


def test_a_wrong_or_missing_token_gets_nothing():
    _address_or_skip()
    server = CredentialServer(RoleSession(lambda: Sts(3600), ROLE_ARN, "job-1").document)
    server.start()
    try:
        for headers in ({}, {"Authorization": "guess"}, {"Authorization": server.token + "x"}):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(urllib.request.Request(server.url, headers=headers), timeout=5)
            assert refused.value.code == 403
        other_path = server.url.replace("/v1/credentials", "/v2/credentials")
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(urllib.request.Request(other_path, headers={"Authorization": server.token}))
        assert server.requests == 0
    finally:
        server.close()


def test_a_renewal_that_fails_is_an_error_the_sdk_sees_not_stale_credentials():
    _address_or_skip()
    sts = Sts(lifetime_s=60)
    session = RoleSession(lambda: sts, ROLE_ARN, "job-1")
    session.document()
    sts.fail = True
    with serving(session.document) as environment:
        request = urllib.request.Request(
            environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"],
            headers={"Authorization": environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"]},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 503
    assert json.loads(refused.value.read())["code"] == "RoleUnavailable"


def test_a_role_that_cannot_be_assumed_names_it_and_what_to_allow():
    session = RoleSession(lambda: Sts(3600, fail=True), ROLE_ARN, "job-1")
    with pytest.raises(
        RoleUnavailable, match=r"role_arn: .*role/r could not be assumed .*AccessDenied: not allowed"
    ) as refused:
        session.document()
    assert "second line" not in str(refused.value)  # the first line of the SDK's error only
    assert refused.value.__cause__ is None and refused.value.__suppress_context__


def test_the_server_stops_listening_when_the_job_ends():
    _address_or_skip()
    with serving(RoleSession(lambda: Sts(3600), ROLE_ARN, "job-1").document) as environment:
        url = environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
    time.sleep(0.1)
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=2)
