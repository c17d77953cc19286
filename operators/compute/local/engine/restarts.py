"""Restarting serving containers that die, and counting their deaths, as the engine itself records them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ml_lifecycle.errors import EngineError


class EngineRestarts:
    """The restart calls of DockerEngine (a mixin: it uses the engine's ``client``)."""

    client: Any

    def keep_restarting(self, container: Any) -> None:
        """Have the engine restart a container whenever it dies, however often over its life, until it is stopped.

        :param container: the container (e.g. a serving container once it answered its first GET /ping).
        """
        import docker

        try:
            container.update(restart_policy={"Name": "unless-stopped"})
        except docker.errors.APIError as err:
            raise EngineError(f"Could not set the restart policy of {container.name}: {err.explanation}") from err

    def deaths_since(self, container: Any, since_epoch_s: float) -> int:
        """Return how many times a container died since a time, from the engine's events.

        The engine keeps its last events only (a few hundred): on a busy engine the count may come out low.

        :param container: the container.
        :param since_epoch_s: the start of the window (seconds since the epoch).
        """
        import docker

        now = dt.datetime.now(dt.UTC)
        try:
            events = self.client.events(
                since=dt.datetime.fromtimestamp(since_epoch_s, dt.UTC),
                until=now,
                filters={"container": container.id, "event": "die"},
                decode=True,
            )
            return sum(1 for _ in events)
        except docker.errors.APIError as err:
            raise EngineError(f"Could not read the engine's events of {container.name}: {err.explanation}") from err
