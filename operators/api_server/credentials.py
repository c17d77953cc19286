"""The access keys the API accepts: an Airflow connection's login (access key id) and password (secret), as MinIO
keeps its own for S3. Read once per CACHE_S, so a changed secret takes effect without a restart."""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)

CACHE_S = 30.0


class ConnectionCredentials:
    """Looks up the secret of an access key in one Airflow connection.

    :param conn_id: the connection's id.
    """

    def __init__(self, conn_id: str) -> None:
        self.conn_id = conn_id
        self._lock = threading.Lock()
        self._read_at = -CACHE_S
        self._key: tuple[str, str] | None = None

    def secret_for(self, access_key_id: str) -> str | None:
        """Return the secret of an access key, or None when the connection does not hold that key.

        :param access_key_id: the key a request was signed with.
        """
        with self._lock:
            if time.monotonic() - self._read_at >= CACHE_S:
                self._key = self._read()
                self._read_at = time.monotonic()
            key = self._key
        if key is None or key[0] != access_key_id:
            return None
        return key[1]

    def _read(self) -> tuple[str, str] | None:
        """Read the connection; None (and a warning) when it is missing or has no login and password."""
        from airflow.sdk import BaseHook

        try:
            connection = BaseHook.get_connection(self.conn_id)
        except Exception as err:  # a missing connection: every request is refused, and the log says why
            log.warning("SageMaker API: cannot read connection %r (%s): every request is refused", self.conn_id, err)
            return None
        if not connection.login or not connection.password:
            log.warning("SageMaker API: connection %r has no login (access key id) or password (secret)", self.conn_id)
            return None
        return str(connection.login), str(connection.password)
