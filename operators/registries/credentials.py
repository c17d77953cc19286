"""Registry credentials (login and password) from an Airflow connection of type docker or generic."""

from __future__ import annotations

from dataclasses import dataclass

from ml_lifecycle.errors import RegistryError
from ml_lifecycle.secret_sources.values import mask_secret


@dataclass(frozen=True)
class Credentials:
    """A user name and password (or token) for a registry.

    :param username: the login.
    :param password: the password or token.
    :param host: the registry host the connection names, or "" when it names none.
    """

    username: str
    password: str
    host: str = ""

    def __repr__(self) -> str:
        """Never show the password."""
        return f"Credentials(username={self.username!r}, host={self.host!r})"

    @property
    def auth_config(self) -> dict[str, str]:
        """The docker SDK auth_config."""
        return {"username": self.username, "password": self.password}


def credentials_from_connection(conn_id: str) -> Credentials:
    """Read login, password and host from an Airflow connection (environment variable, secrets backend or DB).

    :param conn_id: the connection id, e.g. ``my_registry`` (``AIRFLOW_CONN_MY_REGISTRY`` works anywhere).
    """
    from airflow.sdk import BaseHook

    try:
        connection = BaseHook.get_connection(conn_id)
    except Exception as err:  # the SDK raises AirflowNotFoundException, or ImportError outside a task on old SDKs
        raise RegistryError(
            f"The Airflow connection {conn_id!r} for the registry login was not found ({err}). Create it with "
            f"login and password (type docker or generic), or export AIRFLOW_CONN_{conn_id.upper()}"
        ) from err
    if not connection.login:
        raise RegistryError(f"The Airflow connection {conn_id!r} has no login; set login and password on it")
    mask_secret(connection.password or "")
    host = (connection.host or "").removeprefix("https://").removeprefix("http://").rstrip("/")
    if host and connection.port:
        host = f"{host}:{connection.port}"
    return Credentials(username=connection.login, password=connection.password or "", host=host)
