"""References to secrets a container gets in its environment at run time: where each value is read, never the value.

The forms (``secrets={"DB_PASSWORD": <reference>}``):

* ``conn:<conn_id>/<field>``: a field of an Airflow connection (login, password, host, port, schema), or
  ``conn:<conn_id>/extra/<key>`` for one of its extras;
* ``var:<key>``: an Airflow variable;
* ``secretsmanager:<secret id or ARN>`` with an optional ``#<json key>``, or a Secrets Manager ARN as ECS takes it
  (``arn:aws:secretsmanager:<region>:<account>:secret:<name>[:<json key>[:<version stage>[:<version id>]]]``);
* ``ssm:<parameter name>``, or an SSM parameter ARN (``arn:aws:ssm:<region>:<account>:parameter/<name>``); a
  SecureString is decrypted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ml_lifecycle.core.errors import SpecError

SecretSource = Literal["connection", "variable", "secretsmanager", "ssm"]
# Sources a machine outside Airflow (an EC2 instance, with its role) can read by itself.
AWS_SOURCES: frozenset[str] = frozenset({"secretsmanager", "ssm"})
CONNECTION_FIELDS = ("login", "password", "host", "port", "schema")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Names the platform sets itself (SageMaker's contract, the credentials endpoint): a secret may not replace them.
RESERVED_PREFIXES = ("SM_", "SAGEMAKER_", "AWS_CONTAINER_")
RESERVED_NAMES = frozenset({"TRAINING_JOB_NAME", "TRAINING_JOB_ARN", "CURRENT_HOST"})
FORMS = (
    "conn:<conn_id>/<login|password|host|port|schema>, conn:<conn_id>/extra/<key>, var:<key>, "
    "secretsmanager:<id or ARN>[#<json key>], ssm:<parameter name>, or a Secrets Manager or SSM parameter ARN"
)


@dataclass(frozen=True)
class SecretRef:
    """Where one secret's value is read.

    :param source: connection, variable, secretsmanager or ssm.
    :param name: the connection id, variable key, secret id (or ARN) or parameter name.
    :param key: the connection field (``extra/<key>`` for an extra), or the JSON key inside a secret ("" for all of it).
    :param version_stage: a Secrets Manager version stage ("" for the current one).
    :param version_id: a Secrets Manager version id ("" for the current one).
    :param region: the AWS region an ARN names ("" for the connection's).
    """

    source: SecretSource
    name: str
    key: str = ""
    version_stage: str = ""
    version_id: str = ""
    region: str = ""

    def __str__(self) -> str:
        """Describe the reference (safe to log: it holds no value)."""
        where = {"connection": "Airflow connection", "variable": "Airflow variable"}.get(self.source, self.source)
        return f"{where} {self.name!r}" + (f" ({self.key})" if self.key else "")


def parse_secret_ref(reference: str, field_name: str = "secrets") -> SecretRef:
    """Read one reference; raise SpecError naming the field and the accepted forms.

    :param reference: e.g. ``conn:my_db/password`` or ``ssm:/prod/db/password``.
    :param field_name: the parameter, for the error.
    """
    if not isinstance(reference, str) or not reference.strip():
        raise SpecError(field_name, f"{reference!r} is not a secret reference", f"Write one of: {FORMS}")
    text = reference.strip()
    if text.startswith("arn:"):
        return _from_arn(text, field_name)
    scheme, sep, rest = text.partition(":")
    if not sep or not rest:
        raise SpecError(field_name, f"{text!r} names no source", f"Write one of: {FORMS}")
    if scheme == "conn":
        return _connection(rest, text, field_name)
    if scheme == "var":
        return SecretRef("variable", rest)
    if scheme == "secretsmanager":
        name, _, key = rest.partition("#")
        if name.startswith("arn:"):
            ref = _from_arn(name, field_name)  # ECS's <ARN>:<json key>:<stage>:<version> read as such
            return SecretRef(ref.source, ref.name, key or ref.key, ref.version_stage, ref.version_id, ref.region)
        return SecretRef("secretsmanager", name, key=key)
    if scheme == "ssm":
        if rest.startswith("arn:"):
            return _from_arn(rest, field_name)
        return SecretRef("ssm", rest)
    raise SpecError(field_name, f"{text!r} has an unknown source {scheme!r}", f"Write one of: {FORMS}")


def _connection(rest: str, text: str, field_name: str) -> SecretRef:
    """Read ``<conn_id>/<field>`` or ``<conn_id>/extra/<key>``.

    :param rest: what follows ``conn:``.
    :param text: the whole reference, for the error.
    :param field_name: the parameter, for the error.
    """
    conn_id, _, field = rest.partition("/")
    extra_key = field.removeprefix("extra/") if field.startswith("extra/") else ""
    if not conn_id or not (field in CONNECTION_FIELDS or extra_key):
        raise SpecError(
            field_name,
            f"{text!r} names no field of the connection",
            f"Write conn:<conn_id>/<{'|'.join(CONNECTION_FIELDS)}> or conn:<conn_id>/extra/<key>",
        )
    return SecretRef("connection", conn_id, key=field)


def _from_arn(arn: str, field_name: str) -> SecretRef:
    """Read a Secrets Manager or SSM parameter ARN (ECS's valueFrom forms).

    :param arn: the ARN.
    :param field_name: the parameter, for the error.
    """
    parts = arn.split(":")
    if len(parts) >= 7 and parts[2] == "secretsmanager" and parts[5] == "secret":
        extra = [*parts[7:], "", "", ""]
        return SecretRef(
            "secretsmanager",
            ":".join(parts[:7]),
            key=extra[0],
            version_stage=extra[1],
            version_id=extra[2],
            region=parts[3],
        )
    if len(parts) == 6 and parts[2] == "ssm" and parts[5].startswith("parameter/"):
        return SecretRef("ssm", arn, region=parts[3])  # GetParameter takes the ARN as the name
    raise SpecError(field_name, f"{arn!r} is neither a Secrets Manager secret nor an SSM parameter ARN", FORMS)


def parse_secrets(secrets: Mapping[str, Any] | None, environment: Mapping[str, str] | None = None) -> dict[str, str]:
    """Check every secret's name and reference at once; return name -> reference as given (references, never values).

    :param secrets: environment variable name -> reference, or None.
    :param environment: the plain environment, whose names a secret may not repeat.
    """
    if secrets is None or secrets == "":
        return {}
    if not isinstance(secrets, Mapping):
        raise SpecError("secrets", f"is a {type(secrets).__name__}", 'Pass a dict, e.g. {"DB_PASSWORD": "var:db_pw"}')
    problems: list[SpecError] = []
    for name, reference in secrets.items():
        field_name = f"secrets[{name!r}]"
        if not isinstance(name, str) or not ENV_NAME.fullmatch(name):
            fix = "Name it with letters, digits and _, not a digit first"
            problems.append(SpecError(field_name, "is not an environment variable name", fix))
        elif name in RESERVED_NAMES or name.startswith(RESERVED_PREFIXES):
            fix = "Name it otherwise: the platform sets this variable itself"
            problems.append(SpecError(field_name, "is a name SageMaker's contract or the platform sets", fix))
        elif environment and name in environment:
            problems.append(SpecError(field_name, "is in environment too", "Keep the name in one of them"))
        try:
            parse_secret_ref(reference, field_name)
        except SpecError as err:
            problems.append(err)
    if problems:
        raise SpecError.of_many(problems)
    return {name: str(reference).strip() for name, reference in secrets.items()}


def airflow_only(secrets: Mapping[str, str]) -> list[str]:
    """Return the names of the secrets only Airflow can read (connections and variables), not a machine's AWS role.

    :param secrets: name -> reference.
    """
    return [name for name, ref in secrets.items() if parse_secret_ref(ref).source not in AWS_SOURCES]
