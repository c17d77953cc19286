"""Keep a job record's instance time: ``agent.billable_s`` (every instance, every launch) and interruptions."""

from __future__ import annotations

import time

from ml_lifecycle.compute.records import RecordWriter
from ml_lifecycle.core.status import JobRecord
from ml_lifecycle.core.uris import ArtifactUri
from ml_lifecycle.stores.base import ArtifactStore

BILLABLE_S = "billable_s"
INTERRUPTIONS = "interruptions"
INTERRUPTED_AT = "interrupted_at_epoch_s"


def launch_started_epoch_s(record: JobRecord, launched_at_epoch_s: float, agent_started_epoch_s: float) -> float:
    """Return when this instance's paid time began: the launch, unless that launch was counted before.

    :param record: the record being continued (or a fresh one).
    :param launched_at_epoch_s: the launch time in the job document.
    :param agent_started_epoch_s: when this agent started (for a relaunch the job document does not date).
    """
    interrupted_at = float(record.agent.get(INTERRUPTED_AT) or 0.0)
    return launched_at_epoch_s if launched_at_epoch_s > interrupted_at else agent_started_epoch_s


class MeteredRecordWriter(RecordWriter):
    """A RecordWriter that adds this instance's running time (and the peers' reported time) on every save.

    :param store: the store of the record.
    :param uri: the record's URI.
    :param record: the record (a continued one keeps its earlier billable_s and interruptions).
    :param started_epoch_s: when this instance's paid time began, in epoch seconds.
    """

    def __init__(self, store: ArtifactStore, uri: ArtifactUri, record: JobRecord, started_epoch_s: float) -> None:
        super().__init__(store, uri, record)
        self.started_epoch_s = started_epoch_s
        self.earlier_s = float(record.agent.get(BILLABLE_S) or 0.0)
        self.peer_billable_s: dict[str, float] = {}

    def save(self) -> None:
        """Write the record with billable_s brought up to now."""
        own_s = max(0.0, time.time() - self.started_epoch_s)
        agent = self.record.agent
        agent[BILLABLE_S] = round(self.earlier_s + own_s + sum(self.peer_billable_s.values()), 1)
        agent.setdefault(INTERRUPTIONS, 0)
        super().save()

    def note_interruption(self) -> None:
        """Count an interruption of this launch (saved with the next transition)."""
        agent = self.record.agent
        agent[INTERRUPTIONS] = int(agent.get(INTERRUPTIONS) or 0) + 1
        agent[INTERRUPTED_AT] = time.time()
