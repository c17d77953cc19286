"""Write and read job records (status.json) through an artifact store."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from ml_lifecycle.core.clock import utc_now_iso
from ml_lifecycle.core.job_kinds import RECORD_NAME  # noqa: F401  (its readers find it here too)
from ml_lifecycle.core.status import JobRecord
from ml_lifecycle.core.uris import ArtifactUri
from ml_lifecycle.errors import ArtifactNotFound
from ml_lifecycle.stores.base import ArtifactStore


class RecordWriter:
    """The single writer of one job's record."""

    def __init__(self, store: ArtifactStore, uri: ArtifactUri, record: JobRecord) -> None:
        """Hold the record and where it lives.

        :param store: the store of the job's output location.
        :param uri: the record's URI (``<output>/<job>/status.json``).
        :param record: the record to keep up to date.
        """
        self.store = store
        self.uri = uri
        self.record = record

    def save(self) -> None:
        """Write the record as it is now (atomically)."""
        self.record.updated_at = utc_now_iso()
        self.store.write_bytes(self.uri, json.dumps(self.record.to_dict(), indent=1, sort_keys=True).encode())

    def transition(self, secondary: str, status: str | None = None) -> None:
        """Move to a new secondary status (and optionally status), note the time, and save.

        :param secondary: the new SecondaryStatus.
        :param status: the new JobStatus, or None to keep it.
        """
        self.record.secondary_status = secondary
        if status is not None:
            self.record.status = status
        self.record.transitions.append([secondary, utc_now_iso()])
        self.save()


def read_record(store: ArtifactStore, uri: ArtifactUri) -> JobRecord | None:
    """Read a job record, or None when the job has none.

    :param store: the store of the job's output location.
    :param uri: the record's URI.
    """
    try:
        return JobRecord.from_dict(json.loads(store.read_bytes(uri)))
    except ArtifactNotFound:
        return None


def written_after(record: JobRecord, epoch_s: float) -> bool:
    """Say whether the record was last written after a time (its updated_at; a record without one: yes).

    :param record: the record.
    :param epoch_s: the time, in seconds since the epoch.
    """
    if not record.updated_at:
        return True
    return datetime.fromisoformat(record.updated_at).timestamp() > epoch_s


StoreFor = Callable[[ArtifactUri], ArtifactStore]
