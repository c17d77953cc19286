"""Where the API reads a tuning job's state (the Tuner's document): under its output path while it runs, and from the
API's own state once it ended, where it is kept with its trials' final records, so that an ended tuning job is still
described and listed after its output bucket was emptied or deleted, as on SageMaker."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from ml_lifecycle.api_server.names import key_of
from ml_lifecycle.api_server.state import ApiState
from ml_lifecycle.compute.lifecycle import keeping_error
from ml_lifecycle.core.sagemaker_api.describe_tuning import NOUN
from ml_lifecycle.core.tuning.state import TuningState
from ml_lifecycle.stores import StoreFor

KIND = "tuning-jobs"
NAME_FIELD = f"{NOUN}Name"
KEPT_FIELD = "settled_state"


class TuningStates:
    """Reads tuning jobs' states, and keeps an ended one's.

    :param state: the API's stored resources.
    :param store_for: returns the store for a URI (the output paths).
    :param settle_trial: describes a trial as a training job, which keeps its final record once it ended.
    """

    def __init__(self, state: ApiState, store_for: StoreFor, settle_trial: Callable[[str], Any]) -> None:
        self.state, self.store_for, self.settle_trial = state, store_for, settle_trial

    def of(self, request: Mapping[str, Any]) -> TuningState | None:
        """Return a tuning job's state: the one kept once it ended, else the one under its output path, or None before
        its first step wrote it.

        :param request: its CreateHyperParameterTuningJob request.
        """
        document = self.state.get(KIND, key_of(str(request[NAME_FIELD]))) or {}
        if document.get("request") == request and document.get(KEPT_FIELD):
            return TuningState.from_dict(document[KEPT_FIELD])
        return self._under_output(request, str(request[NAME_FIELD]))

    def parents(self, request: Mapping[str, Any]) -> list[TuningState]:
        """Return the states of a tuning job's warm start parents that are found (kept, or under its output path).

        :param request: its CreateHyperParameterTuningJob request.
        """
        states = []
        for parent in (request.get("WarmStartConfig") or {}).get("ParentHyperParameterTuningJobs") or []:
            kept = (self.state.get(KIND, key_of(str(parent[NAME_FIELD]))) or {}).get(KEPT_FIELD)
            states.append(TuningState.from_dict(kept) if kept else self._under_output(request, parent[NAME_FIELD]))
        return [s for s in states if s is not None]

    def keep(self, state: TuningState | None, update: Callable[..., None]) -> None:
        """Keep an ended tuning job's state, and its trials' final records, in the API's own state.

        :param state: its state, if it has one (nothing is kept while it runs).
        :param update: sets fields of its stored document.
        """
        if state is None or state.status == "InProgress":
            return
        for trial in state.trials:
            keeping_error(functools.partial(self.settle_trial, trial.name), f"Keeping trial {trial.name}'s record")
        update(**{KEPT_FIELD: state.to_dict()})

    def _under_output(self, request: Mapping[str, Any], name: str) -> TuningState | None:
        """Return the state a tuning job of this output path wrote, or None.

        :param request: the request naming the output path.
        :param name: the tuning job's name.
        """
        from ml_lifecycle.tuning.state_store import read_state, state_uri

        output_path = str(request["TrainingJobDefinition"]["OutputDataConfig"]["S3OutputPath"])
        return read_state(self.store_for, state_uri(output_path, name))
