"""The SageMaker-compatible API on Airflow's API server, built on its first request (so loading plugins reads no
settings and imports no AWS client)."""

from __future__ import annotations

import threading
from typing import Any

API_URL_PREFIX = "/sagemaker-api"


class LazyApp:
    """An ASGI app that builds the API (``ml_lifecycle.api_server.app``) when it is first called."""

    def __init__(self) -> None:
        self._app: Any = None
        self._lock = threading.Lock()

    def _built(self) -> Any:
        """Return the API's app, building it once."""
        with self._lock:
            if self._app is None:
                from ml_lifecycle.api_server.app import create_app

                self._app = create_app()
            return self._app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Serve one ASGI call (lifespan events are the mounting app's; they are not passed on).

        :param scope: the ASGI scope.
        :param receive: receives events.
        :param send: sends events.
        """
        if scope["type"] == "lifespan":
            return
        await self._built()(scope, receive, send)


class PrefixWithoutSlash:
    """Routes ``POST /sagemaker-api`` (no trailing slash) into the API: AWS clients given the endpoint URL
    ``http://host:8080/sagemaker-api`` send their JSON operations to exactly that path, which the mount would miss.
    Only the routing path changes; the raw path the client signed stays as it was.

    :param app: the API server's app.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Pass one ASGI call on, with the prefix's own path routed to the mounted API.

        :param scope: the ASGI scope.
        :param receive: receives events.
        :param send: sends events.
        """
        if scope["type"] == "http":
            root = scope.get("root_path", "")  # Airflow's base_url path, when it has one
            path = scope.get("path", "")
            if path.removeprefix(root) == API_URL_PREFIX:
                scope = {**scope, "path": path + "/"}
        await self.app(scope, receive, send)
