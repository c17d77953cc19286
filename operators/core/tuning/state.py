"""A tuning job's state (one JSON document in the artifact store) and its trials' deterministic names.

The state is the truth a retried or resumed task starts from: a finished trial is never run again, a running one
is found again by its name.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from ml_lifecycle.core.naming import MAX_JOB_NAME_CHARS
from ml_lifecycle.core.tuning.config import Objective

STATE_NAME = "tuning-state.json"
_HASH_CHARS = 8


class TrialStatus(StrEnum):
    """A trial's state: its training job's, as SageMaker reports the training jobs of a tuning job."""

    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPED = "Stopped"


def trial_name(tuning_job: str, number: int) -> str:
    """Name a trial as SageMaker does, ``<tuning-job>-<NNN>-<8 hex>``, at most 63 characters and the same on every
    retry (the hex is a hash of the tuning job and the number, not random).

    :param tuning_job: the tuning job's name.
    :param number: the trial's number, from 1.
    """
    digest = hashlib.sha256(f"{tuning_job}\0{number}".encode()).hexdigest()[:_HASH_CHARS]
    suffix = f"-{number:03d}-{digest}"
    return f"{tuning_job[: MAX_JOB_NAME_CHARS - len(suffix)].rstrip('-')}{suffix}"


@dataclass
class Trial:
    """One trial: a training job with its hyperparameters, and what the search learned from it.

    :param number: its number, from 1 (the order trials were started in).
    :param name: its training job's name.
    :param hyperparameters: the searched hyperparameters as the container got them (strings).
    :param params: the searched values as the sampler proposed them (a reverse-logarithmic value as ``1 - x``).
    :param status: a TrialStatus value.
    :param objective: the objective metric's final value, or None.
    :param series: the objective metric's values so far, as [seconds since start, value].
    :param early_stopped: whether the tuning job stopped it (early stopping or Hyperband).
    :param failure_reason: why it failed, when it did.
    :param metrics: its final metrics.
    :param search_attrs: what the search keeps on the trial between decisions (Hyperband's rungs).
    :param created_epoch_s: when the tuning job started it, or None in a state written before this was kept.
    :param ended_epoch_s: when the tuning job saw it end, or None.
    """

    number: int
    name: str
    hyperparameters: dict[str, str]
    params: dict[str, Any]
    status: str = TrialStatus.IN_PROGRESS
    objective: float | None = None
    series: list[list[float]] = field(default_factory=list)
    early_stopped: bool = False
    failure_reason: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    search_attrs: dict[str, Any] = field(default_factory=dict)
    created_epoch_s: float | None = None
    ended_epoch_s: float | None = None

    @property
    def finished(self) -> bool:
        """Whether the trial will change no more."""
        return self.status != TrialStatus.IN_PROGRESS


@dataclass
class TuningState:
    """A tuning job's trials and settings, as stored in ``<output_path>/<tuning-job>/tuning-state.json``.

    :param tuning_job_name: the tuning job's name.
    :param strategy: its strategy.
    :param objective_metric: its objective metric's name.
    :param objective_type: ``Minimize`` or ``Maximize``.
    :param started_epoch_s: when it started (its MaxRuntimeInSeconds counts from here).
    :param trials: its trials, in the order they started.
    :param status: ``InProgress``, ``Completed``, ``Failed`` or ``Stopped``.
    :param ended_epoch_s: when it ended, or None.
    """

    tuning_job_name: str
    strategy: str
    objective_metric: str
    objective_type: str
    started_epoch_s: float
    trials: list[Trial] = field(default_factory=list)
    status: str = "InProgress"
    ended_epoch_s: float | None = None

    @property
    def objective(self) -> Objective:
        """The objective the trials are judged by."""
        return Objective(self.objective_metric, self.objective_type)

    def running(self) -> list[Trial]:
        """Return the trials still running."""
        return [t for t in self.trials if not t.finished]

    def best(self, others: list[Trial] | None = None) -> Trial | None:
        """Return the completed trial with the best objective (the first one on a tie), or None.

        :param others: more trials to compare with (a warm start's parents' trials).
        """
        best: Trial | None = None
        best_value = 0.0
        for trial in [*self.trials, *(others or [])]:
            if trial.status != TrialStatus.COMPLETED or trial.objective is None:
                continue
            if best is None or self.objective.better(trial.objective, best_value):
                best, best_value = trial, trial.objective
        return best

    def counts(self) -> dict[str, int]:
        """Return how many trials are in each state (SageMaker's TrainingJobStatusCounters, by our state names)."""
        return {status.value: sum(t.status == status for t in self.trials) for status in TrialStatus}

    def to_dict(self) -> dict[str, Any]:
        """Return the state as JSON-safe data."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TuningState:
        """Read a stored state, ignoring keys a newer writer may have added.

        :param data: the parsed document.
        """
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "trials"}
        trial_fields = Trial.__dataclass_fields__
        trials = [Trial(**{k: v for k, v in t.items() if k in trial_fields}) for t in data.get("trials", [])]
        return cls(**known, trials=trials)
