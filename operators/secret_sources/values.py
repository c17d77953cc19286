"""Read the values of a job's secrets when it starts: Airflow connections and variables, Secrets Manager, SSM.

Values live only in memory and in the container's environment: they are masked in the Airflow task log as soon as
they are read, and never written to a record, an XCom or a log line (errors name the reference, never a value).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from ml_lifecycle.aws_clients import client_factory
from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.secret_refs import SecretRef, parse_secret_ref

PLAIN_CONNECTION_FIELDS = ("host", "port", "login", "schema")
ClientFor = Callable[[str, str], Any]  # (service, region or "") -> a boto3 client


class SecretUnavailable(SpecError):
    """A secret's reference could not be read; raised before anything starts."""


def resolve_secrets(
    secrets: Mapping[str, str],
    aws_conn_id: str | None,
    *,
    region: str | None = None,
    client_for: ClientFor | None = None,
) -> dict[str, str]:
    """Read every secret's value (each failure reported at once); mask each value in the task log.

    :param secrets: environment variable name -> reference (core.secret_refs forms).
    :param aws_conn_id: the Airflow AWS connection for Secrets Manager and SSM; None for boto3's default chain (an
        instance's role).
    :param region: the region of Secrets Manager and SSM when a reference names none; None for the connection's.
    :param client_for: (service, region) -> boto3 client; None builds them from aws_conn_id.
    """
    clients = client_for or _clients(aws_conn_id, region)
    values: dict[str, str] = {}
    problems: list[SpecError] = []
    for name, reference in secrets.items():
        ref = parse_secret_ref(reference, f"secrets[{name!r}]")
        try:
            value = _read(ref, clients)
        except SecretUnavailable as err:
            problems.append(err)
            continue
        if not (ref.source == "connection" and ref.key in PLAIN_CONNECTION_FIELDS):
            mask_secret(value)  # a host or a port masked would blank every "localhost" or "5432" in the log
        values[name] = value
    if problems:
        raise SecretUnavailable.of_many(problems)
    return values


def _clients(aws_conn_id: str | None, default_region: str | None) -> ClientFor:
    """Return a cached (service, region) -> client function over the Airflow AWS connection.

    :param aws_conn_id: the connection, or None.
    :param default_region: the region when a reference names none, or None for the connection's.
    """
    built: dict[tuple[str, str], Callable[[], Any]] = {}

    def client_for(service: str, region: str) -> Any:
        if (service, region) not in built:
            built[(service, region)] = client_factory(service, aws_conn_id, region or default_region)
        return built[(service, region)]()

    return client_for


def _read(ref: SecretRef, clients: ClientFor) -> str:
    """Read one value; raise SecretUnavailable naming the reference and what to fix.

    :param ref: the reference.
    :param clients: (service, region) -> boto3 client.
    """
    field_name = f"secret {ref}"
    try:
        if ref.source == "connection":
            return _connection_field(ref)
        if ref.source == "variable":
            from airflow.sdk import Variable

            return str(Variable.get(ref.name))
        if ref.source == "ssm":
            found = clients("ssm", ref.region).get_parameter(Name=ref.name, WithDecryption=True)
            return str(found["Parameter"]["Value"])
        return _secrets_manager(ref, clients("secretsmanager", ref.region))
    except SecretUnavailable:
        raise
    except Exception as err:  # each SDK raises its own not-found and access-denied types
        raise SecretUnavailable(
            field_name,
            f"could not be read ({type(err).__name__}: {_first_line(err)})",
            _fix(ref),
        ) from None  # the chained exception could carry a value in its arguments


def _connection_field(ref: SecretRef) -> str:
    """Read a field or extra of an Airflow connection.

    :param ref: a connection reference.
    """
    from airflow.sdk import BaseHook

    connection = BaseHook.get_connection(ref.name)
    if ref.key.startswith("extra/"):
        extras = connection.extra_dejson
        key = ref.key.removeprefix("extra/")
        if key not in extras:
            raise SecretUnavailable(f"secret {ref}", f"the connection has no extra {key!r}", _fix(ref))
        return str(extras[key])
    value = getattr(connection, ref.key)
    if value in (None, ""):
        raise SecretUnavailable(f"secret {ref}", f"the connection's {ref.key} is empty", _fix(ref))
    return str(value)


def _secrets_manager(ref: SecretRef, client: Any) -> str:
    """Read a Secrets Manager secret, or one JSON key of it.

    :param ref: a secretsmanager reference.
    :param client: a Secrets Manager client.
    """
    args = {"SecretId": ref.name}
    if ref.version_stage:
        args["VersionStage"] = ref.version_stage
    if ref.version_id:
        args["VersionId"] = ref.version_id
    found = client.get_secret_value(**args)
    text = found.get("SecretString")
    if text is None:
        raise SecretUnavailable(f"secret {ref}", "is binary", "Store it as a SecretString: environments hold text")
    if not ref.key:
        return str(text)
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if not isinstance(document, dict) or ref.key not in document:
        raise SecretUnavailable(f"secret {ref}", f"holds no JSON key {ref.key!r}", _fix(ref))
    value = document[ref.key]
    return value if isinstance(value, str) else json.dumps(value)  # true, 5432, {...} as JSON, as ECS gives them


def _fix(ref: SecretRef) -> str:
    """Say how to make a reference readable.

    :param ref: the reference.
    """
    return {
        "connection": f"Create the Airflow connection {ref.name!r} with that field, or fix the reference",
        "variable": f"Create the Airflow variable {ref.name!r}, or fix the reference",
        "ssm": f"Create the SSM parameter {ref.name!r} and allow ssm:GetParameter (and kms:Decrypt) to the role",
        "secretsmanager": f"Create the secret {ref.name!r} and allow secretsmanager:GetSecretValue to the role",
    }[ref.source]


def _first_line(err: Exception) -> str:
    """Return the first line of an error, shortened.

    :param err: the error.
    """
    return (str(err).splitlines() or [""])[0][:300]


def mask_secret(secret: str) -> None:
    """Keep a secret out of the task log when running under Airflow.

    :param secret: the secret.
    """
    if not secret:
        return
    try:
        from airflow.sdk.log import mask_secret as airflow_mask
    except ImportError:  # outside Airflow there is no task log to mask
        return
    airflow_mask(secret)
