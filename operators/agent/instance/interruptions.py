"""Watch for the reasons a host must stop early: a spot interruption notice, a stop request, the job ending."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from ml_lifecycle.agent.instance.imds import MetadataClient
from ml_lifecycle.core.uris import ArtifactUri
from ml_lifecycle.stores.base import ArtifactStore

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 5.0
INTERRUPT = "interrupt"
STOP = "stop"

PeerCheck = Callable[[], str | None]


class InterruptionWatch:
    """Polls, from a background thread, until closed; each action runs at most once.

    :param imds: the metadata client (spot ``instance-action``).
    :param store: the store of the staging prefix.
    :param stop_uri: the object whose presence asks the job to stop (``<staging>/stop-requested``).
    :param on_interrupt: called on a spot notice (or when peer_check says INTERRUPT).
    :param on_stop: called on a stop request (or when peer_check says STOP).
    :param peer_check: with several hosts, says whether another host's state ends this one (INTERRUPT, STOP).
    :param interval_s: seconds between polls.
    """

    def __init__(
        self,
        imds: MetadataClient,
        store: ArtifactStore,
        stop_uri: ArtifactUri,
        on_interrupt: Callable[[str], None],
        on_stop: Callable[[str], None],
        peer_check: PeerCheck | None = None,
        interval_s: float = POLL_INTERVAL_S,
    ) -> None:
        self.imds = imds
        self.store = store
        self.stop_uri = stop_uri
        self.on_interrupt = on_interrupt
        self.on_stop = on_stop
        self.peer_check = peer_check
        self.interval_s = interval_s
        self.fired: set[str] = set()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="interruption-watch", daemon=True)

    def start(self) -> None:
        """Start polling."""
        self._thread.start()

    def close(self) -> None:
        """Stop polling."""
        self._closed.set()
        if self._thread.is_alive():
            self._thread.join()

    def poll(self) -> None:
        """Check every source once and run the actions that are due (a failed check is logged and retried)."""
        for name, check in (("spot", self._spot), ("stop", self._stop_requested), ("peers", self._peers)):
            try:
                due = check()
            except Exception as err:  # a flaky check must not end the watch
                log.warning("Interruption check %s failed (retrying in %.0f s): %s", name, self.interval_s, err)
                continue
            if due is not None:
                self._fire(*due)

    def _spot(self) -> tuple[str, str] | None:
        """Return the spot notice as an action, if any."""
        notice = self.imds.spot_action()
        if notice is None:
            return None
        return INTERRUPT, f"spot interruption notice: {notice.get('action')} at {notice.get('time')}"

    def _stop_requested(self) -> tuple[str, str] | None:
        """Return a stop request as an action, if any."""
        if self.store.exists(self.stop_uri):
            return STOP, f"stop requested ({self.stop_uri})"
        return None

    def _peers(self) -> tuple[str, str] | None:
        """Return what another host's state asks of this one, if anything."""
        action = self.peer_check() if self.peer_check else None
        return (action, f"another host of the job asked to {action}") if action else None

    def _fire(self, action: str, reason: str) -> None:
        """Run an action once.

        :param action: INTERRUPT or STOP.
        :param reason: why, for the log and the action.
        """
        if action in self.fired:
            return
        self.fired.add(action)
        log.warning("Ending this host early: %s", reason)
        (self.on_interrupt if action == INTERRUPT else self.on_stop)(reason)

    def _loop(self) -> None:
        """Poll now and then every interval until closed."""
        while not self._closed.is_set():
            self.poll()
            self._closed.wait(self.interval_s)
