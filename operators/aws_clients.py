"""boto3 clients built from an Airflow AWS connection, lazily and once.

How the connection is found (Airflow 3, checked with apache-airflow 3.3.2 / task-sdk 1.3.2):
``AwsBaseHook.get_connection`` is the Task SDK's ``BaseHook.get_connection`` -> ``Connection.get`` ->
``airflow.sdk.execution_time.context._get_connection``, which asks the secrets backends chosen by
``supervisor.ensure_secrets_backend_loaded()``:

* inside a running task (``task_runner.SUPERVISOR_COMMS`` is set): the worker chain - environment
  variables, configured backends, then the Execution API (the metadata database through the API server);
* with ``_AIRFLOW_PROCESS_CONTEXT=server`` (scheduler, API server): environment variables then the database;
* anywhere else (a plain python process, pytest, a CLI): environment variables plus configured external
  backends, no database.

So ``AIRFLOW_CONN_AWS_DEFAULT='{"conn_type": "aws", "login": ..., "password": ...,
"extra": {"endpoint_url": ..., "region_name": ...}}'`` (JSON or URI form) works outside a task too.
Older Task SDKs (Airflow 3.0 / early 3.1) only asked the supervisor: outside a task the lookup raised
``ImportError: ... SUPERVISOR_COMMS``, which AwsBaseHook logs and swallows, silently falling back to an
empty connection (boto3's default chain, no endpoint_url). For those, _build_client reads the
``AIRFLOW_CONN_<ID>`` variable itself when the hook found nothing. Connections stored only in the metadata
database are not visible outside a task or server process; export them as environment variables there.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

CONN_ENV_PREFIX = "AIRFLOW_CONN_"
_LOADER: list[Any] = []  # the process's botocore data loader, made on first use
_LOADER_LOCK = threading.Lock()


def client_factory(
    service: str, aws_conn_id: str | None = "aws_default", region_name: str | None = None
) -> Callable[[], Any]:
    """Return a zero-argument callable that builds the boto3 client once (thread-safe) and then reuses it.

    :param service: the boto3 service name, e.g. ``s3``.
    :param aws_conn_id: the Airflow AWS connection (its endpoint_url, service_config, region and
        credentials are honoured); None uses boto3's default chain without Airflow.
    :param region_name: overrides the connection's region.
    """
    lock = threading.Lock()
    built: list[Any] = []

    def factory() -> Any:
        if not built:
            with lock:
                if not built:
                    built.append(_build_client(service, aws_conn_id, region_name))
        return built[0]

    return factory


def _build_client(service: str, aws_conn_id: str | None, region_name: str | None) -> Any:
    """Build one boto3 client from the Airflow connection, or from boto3's default chain without one.

    :param service: the boto3 service name.
    :param aws_conn_id: the Airflow AWS connection, or None.
    :param region_name: overrides the connection's region.
    """
    if aws_conn_id is None:
        import boto3

        return with_shared_loader(boto3.session.Session(region_name=region_name)).client(service)

    hook = _hook(service, aws_conn_id, region_name)
    make_session = hook.get_session
    # The provider's own client construction, on a session that shares the process's parsed service models.
    hook.get_session = lambda **kwargs: with_shared_loader(make_session(**kwargs))
    return hook.get_conn()


def with_shared_loader(session: Any) -> Any:
    """Give a boto3 session the process's one botocore data loader, and return it.

    A new session parses each service's model and the endpoint data again (a fifth of a second for EC2's, against
    a twentieth with the models already read); the loader caches what it read and nothing mutates it, so one per
    process serves every session, as one session's clients share theirs.

    :param session: a boto3 session.
    """
    import botocore.loaders

    if not _LOADER:
        with _LOADER_LOCK:
            if not _LOADER:
                _LOADER.append(botocore.loaders.create_loader())
    session._session.register_component("data_loader", _LOADER[0])
    return session


def connection_endpoint_url(service: str, aws_conn_id: str) -> str | None:
    """Return the endpoint the Airflow AWS connection names for a service (its service_config's, else endpoint_url).

    :param service: the boto3 service name.
    :param aws_conn_id: the connection.
    """
    config = _hook(service, aws_conn_id, None).conn_config
    return config.get_service_endpoint_url(service) if config else None


def _hook(service: str, aws_conn_id: str, region_name: str | None) -> Any:
    """Return the provider's AwsBaseHook for the connection, read from its environment variable when needed.

    :param service: the boto3 service name.
    :param aws_conn_id: the connection.
    :param region_name: overrides the connection's region.
    """
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
    from airflow.providers.amazon.aws.utils.connection_wrapper import AwsConnectionWrapper

    hook = AwsBaseHook(aws_conn_id=aws_conn_id, client_type=service, region_name=region_name)
    if not hook.conn_config:  # the hook found no connection (see the module docstring)
        connection = _connection_from_env(aws_conn_id)
        if connection is not None:
            hook.conn_config = AwsConnectionWrapper(conn=connection, region_name=region_name)
    return hook


def _connection_from_env(aws_conn_id: str) -> Any:
    """Read the connection from its AIRFLOW_CONN_<ID> environment variable (JSON or URI); None if unset.

    :param aws_conn_id: the connection id.
    """
    value = os.environ.get(CONN_ENV_PREFIX + aws_conn_id.upper(), "").strip()
    if not value:
        return None
    from airflow.sdk import Connection

    if value.startswith("{"):
        return Connection.from_json(value, conn_id=aws_conn_id)
    return Connection.from_uri(value, conn_id=aws_conn_id)


def detached_client_factory(service: str, aws_conn_id: str | None) -> Callable[[], Any]:
    """Resolve the connection now and return a factory that builds plain boto3 clients from it later.

    For code that runs away from Airflow (a detached job agent): the returned factory needs no Airflow, so it is
    safe to call in a forked process. Credentials stay in memory; they are never written anywhere. The connection's
    credentials object is kept as it is, so credentials that renew themselves (an instance profile, a role the
    connection assumes) keep renewing in the agent. A process builds its own client: a client built before a fork
    is never used after it, in the child (its pooled sockets' descriptor numbers are closed there and reused by
    other files), and it is kept referenced so that collecting it never closes a number now in use.

    :param service: the boto3 service name.
    :param aws_conn_id: the Airflow AWS connection, or None for boto3's default chain.
    """
    settings: dict[str, Any] = {}
    credentials: Any = None
    if aws_conn_id is not None:
        client = _build_client(service, aws_conn_id, None)
        credentials = client._request_signer._credentials
        settings = {"endpoint_url": client.meta.endpoint_url, "region_name": client.meta.region_name}
    lock = threading.Lock()
    built: dict[int, Any] = {}  # pid -> its client; a parent's stays referenced in its children

    def factory() -> Any:
        import boto3

        with lock:
            pid = os.getpid()
            if pid not in built:
                session = with_shared_loader(boto3.session.Session(region_name=settings.get("region_name")))
                if credentials is not None:
                    session._session._credentials = credentials  # as the provider's own session factory does
                built[pid] = session.client(service, endpoint_url=settings.get("endpoint_url"))
            return built[pid]

    return factory
