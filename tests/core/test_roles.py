"""The execution role's pure parts: ARNs, session names, the credentials document, renewal, endpoints as seen inside."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.roles import (
    REFRESH_MARGIN_S,
    check_role_arn,
    check_role_environment,
    container_endpoint_url,
    credentials_document,
    needs_refresh,
    role_name,
    session_name,
)

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("arn", "name"),
    [
        ("arn:aws:iam::123456789012:role/SageMakerRole", "SageMakerRole"),
        (
            "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-2024",
            "AmazonSageMaker-ExecutionRole-2024",
        ),
        ("arn:aws-cn:iam::123456789012:role/a/b/c+=,.@-x", "c+=,.@-x"),
        ("arn:aws-us-gov:iam::123456789012:role/r", "r"),
    ],
)
def test_a_role_arn_is_kept_and_named(arn, name):
    assert check_role_arn(arn) == arn
    assert role_name(arn) == name


@pytest.mark.parametrize(
    "value",
    [
        "SageMakerRole",
        "arn:aws:iam::12345:role/r",
        "arn:aws:iam::123456789012:user/r",
        "arn:aws:iam::123456789012:role/",
        "arn:aws:iam::123456789012:role/r;$(id)",
        "arn:aws:iam::123456789012:role/r\nx",
        42,
    ],
)
def test_anything_else_says_what_to_write(value):
    with pytest.raises(SpecError, match=r"role_arn: .* is not an IAM role ARN\. Write arn:aws:iam::<12-digit account>"):
        check_role_arn(value)


def test_no_role_is_none():
    assert check_role_arn(None) is None and check_role_arn("") is None


@pytest.mark.parametrize(
    ("job", "session"),
    [
        ("tests-train-1a2b", "tests-train-1a2b"),
        ("a", "ml-lifecycle-a"),
        ("job with spaces/and:colons", "job-with-spaces-and-colons"),
        ("x" * 80, "x" * 64),
    ],
)
def test_a_session_is_named_after_its_job_in_sts_alphabet(job, session):
    assert session_name(job) == session


def test_the_document_is_what_sdks_read_from_a_container_credentials_endpoint():
    expiry = datetime(2026, 12, 7, 13, 0, 0, tzinfo=timezone(timedelta(hours=1)))
    credentials = {"AccessKeyId": "ASIA1", "SecretAccessKey": "s", "SessionToken": "t", "Expiration": expiry}
    assert credentials_document(credentials, "arn:aws:iam::123456789012:role/r") == {
        "AccessKeyId": "ASIA1",
        "SecretAccessKey": "s",
        "Token": "t",
        "Expiration": "2026-12-07T12:00:00Z",
        "RoleArn": "arn:aws:iam::123456789012:role/r",
    }


@pytest.mark.parametrize(
    ("expires_in_s", "renew"),
    [(None, True), (3600, False), (REFRESH_MARGIN_S + 1, False), (REFRESH_MARGIN_S - 1, True), (-5, True)],
)
def test_credentials_are_renewed_before_sdks_would_refuse_them(expires_in_s, renew):
    expiration = (
        None if expires_in_s is None else (NOW + timedelta(seconds=expires_in_s)).strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    assert needs_refresh(expiration, NOW.timestamp()) is renew


@pytest.mark.parametrize(
    ("endpoint", "seen_inside"),
    [
        ("http://127.0.0.1:9000", "http://172.17.0.1:9000"),
        ("http://localhost:4566/path", "http://172.17.0.1:4566/path"),
        ("http://[::1]:9000", "http://172.17.0.1:9000"),
        ("http://minio:9000", "http://minio:9000"),
        ("https://s3.eu-west-1.amazonaws.com", "https://s3.eu-west-1.amazonaws.com"),
    ],
)
def test_a_loopback_endpoint_is_reached_through_the_engine_gateway(endpoint, seen_inside):
    assert container_endpoint_url(endpoint, "172.17.0.1") == seen_inside


def test_access_keys_beside_a_role_are_refused_because_sdks_read_them_first():
    role = "arn:aws:iam::123456789012:role/r"
    with pytest.raises(SpecError, match="sets AWS_ACCESS_KEY_ID, AWS_SESSION_TOKEN beside role_arn"):
        check_role_environment(role, {"AWS_ACCESS_KEY_ID": "x", "OTHER": "y"}, {"AWS_SESSION_TOKEN": "ssm:/t"})
    check_role_environment(None, {"AWS_ACCESS_KEY_ID": "x"})  # keys without a role are the user's choice
    check_role_environment(role, {"AWS_REGION": "eu-west-1"}, {"DB_PASSWORD": "var:pw"})
