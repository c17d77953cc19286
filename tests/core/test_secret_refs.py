"""Secret references: every accepted form read exactly, every bad one refused with what to write, all at once."""

from __future__ import annotations

import pytest

from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.secret_refs import SecretRef, airflow_only, parse_secret_ref, parse_secrets

SM_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf"
SSM_ARN = "arn:aws:ssm:eu-west-1:123456789012:parameter/prod/db/password"


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("conn:my_db/password", SecretRef("connection", "my_db", key="password")),
        ("conn:my_db/login", SecretRef("connection", "my_db", key="login")),
        ("conn:my_db/extra/api_token", SecretRef("connection", "my_db", key="extra/api_token")),
        ("var:db_password", SecretRef("variable", "db_password")),
        ("secretsmanager:prod/db", SecretRef("secretsmanager", "prod/db")),
        ("secretsmanager:prod/db#password", SecretRef("secretsmanager", "prod/db", key="password")),
        (f"secretsmanager:{SM_ARN}#user", SecretRef("secretsmanager", SM_ARN, key="user", region="eu-west-1")),
        (SM_ARN, SecretRef("secretsmanager", SM_ARN, region="eu-west-1")),
        (  # ECS's valueFrom: <arn>:<json key>:<version stage>:<version id>
            f"{SM_ARN}:password:AWSPREVIOUS:",
            SecretRef("secretsmanager", SM_ARN, key="password", version_stage="AWSPREVIOUS", region="eu-west-1"),
        ),
        ("ssm:/prod/db/password", SecretRef("ssm", "/prod/db/password")),
        ("ssm:plain-name", SecretRef("ssm", "plain-name")),
        (SSM_ARN, SecretRef("ssm", SSM_ARN, region="eu-west-1")),
        (f"ssm:{SSM_ARN}", SecretRef("ssm", SSM_ARN, region="eu-west-1")),
        (  # ECS's form under the prefix too
            f"secretsmanager:{SM_ARN}:user:AWSCURRENT:",
            SecretRef("secretsmanager", SM_ARN, key="user", version_stage="AWSCURRENT", region="eu-west-1"),
        ),
        ("  var:padded  ", SecretRef("variable", "padded")),
    ],
)
def test_a_reference_is_read_exactly(reference, expected):
    assert parse_secret_ref(reference) == expected


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("", "is not a secret reference"),
        (42, "is not a secret reference"),
        ("hunter2", "names no source"),
        ("vault:db", "unknown source 'vault'"),
        ("conn:my_db", "names no field of the connection"),
        ("conn:my_db/passwd", "names no field of the connection"),
        ("conn:/password", "names no field of the connection"),
        ("arn:aws:s3:::bucket/key", "neither a Secrets Manager secret nor an SSM parameter ARN"),
    ],
)
def test_a_bad_reference_says_what_to_write(reference, message):
    with pytest.raises(SpecError, match=message) as refused:
        parse_secret_ref(reference)
    assert "Write" in str(refused.value) or "secretsmanager:" in str(refused.value)


def test_every_bad_secret_is_reported_at_once_and_none_repeats_the_environment():
    with pytest.raises(SpecError) as refused:
        parse_secrets(
            {"1BAD": "var:x", "DB_PASSWORD": "var:pw", "TOKEN": "nowhere", "OK": "ssm:/ok"},
            environment={"DB_PASSWORD": "plain"},
        )
    text = str(refused.value)
    assert "secrets['1BAD']: is not an environment variable name" in text
    assert "secrets['DB_PASSWORD']: is in environment too" in text
    assert "secrets['TOKEN']: 'nowhere' names no source" in text
    assert "OK" not in text.replace("TOKEN", "")


@pytest.mark.parametrize(
    "name", ["SM_HOSTS", "SAGEMAKER_PROGRAM", "TRAINING_JOB_NAME", "AWS_CONTAINER_AUTHORIZATION_TOKEN"]
)
def test_a_secret_may_not_replace_what_the_platform_sets(name):
    with pytest.raises(SpecError, match=rf"secrets\['{name}'\]: is a name SageMaker's contract or the platform sets"):
        parse_secrets({name: "var:x"})


def test_references_are_kept_as_given_and_nothing_is_no_secret():
    assert parse_secrets({"A": " var:a ", "B": "ssm:/b"}) == {"A": "var:a", "B": "ssm:/b"}
    assert parse_secrets(None) == {} == parse_secrets({})
    with pytest.raises(SpecError, match="is a list"):
        parse_secrets(["var:a"])


def test_only_airflow_sources_are_out_of_an_instance_role_reach():
    secrets = {"A": "conn:db/password", "B": "var:b", "C": "ssm:/c", "D": SM_ARN}
    assert airflow_only(secrets) == ["A", "B"]


def test_a_reference_describes_itself_without_any_value():
    assert str(parse_secret_ref("conn:my_db/password")) == "Airflow connection 'my_db' (password)"
    assert str(parse_secret_ref("ssm:/prod/x")) == "ssm '/prod/x'"
