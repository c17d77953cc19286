"""Read and write a tuning job's state: one JSON document beside its trials, written atomically."""

from __future__ import annotations

import json

from ml_lifecycle.core.job_kinds import job_output_uri
from ml_lifecycle.core.tuning.state import STATE_NAME, TuningState
from ml_lifecycle.core.uris import ArtifactUri
from ml_lifecycle.errors import ArtifactNotFound
from ml_lifecycle.stores import StoreFor


def state_uri(output_path: str, tuning_job: str) -> ArtifactUri:
    """Return where a tuning job's state lives: ``<output_path>/<tuning-job>/tuning-state.json``.

    :param output_path: the training definition's output_path (the trials' outputs go there too).
    :param tuning_job: the tuning job's name.
    """
    return job_output_uri(output_path, tuning_job).join(STATE_NAME)


def read_state(store_for: StoreFor, uri: ArtifactUri) -> TuningState | None:
    """Read a tuning job's state, or None when it has none.

    :param store_for: returns the store for a URI.
    :param uri: the state's URI.
    """
    try:
        return TuningState.from_dict(json.loads(store_for(uri).read_bytes(uri)))
    except ArtifactNotFound:
        return None


def write_state(store_for: StoreFor, uri: ArtifactUri, state: TuningState) -> None:
    """Write a tuning job's state (a reader sees the old document or the new one, never half of one).

    :param store_for: returns the store for a URI.
    :param uri: the state's URI.
    :param state: the state.
    """
    store_for(uri).write_bytes(uri, json.dumps(state.to_dict(), indent=1, sort_keys=True).encode())
