"""The trials of a tuning job as training jobs: start one, follow it, stop it, and note how it ended.

Each trial is an ordinary training job on the task's backend, started and cleaned up through the shared job
lifecycle; what it reported goes into its Trial (the tuning state), never anywhere else.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from ml_lifecycle.compute.base import JobBackend, LogSink
from ml_lifecycle.compute.lifecycle import clean_up_keeping_error, start_named_job, stop_job
from ml_lifecycle.core.lost_instances import track_gone
from ml_lifecycle.core.status import JobRecord, JobStatus, is_terminal
from ml_lifecycle.core.tuning.config import OBJECTIVE_HYPERPARAMETER
from ml_lifecycle.core.tuning.state import Trial, TrialStatus


class TrialJobs:
    """Runs a tuning job's trials as training jobs on one backend.

    :param jobs: the backend's training jobs.
    :param base_spec: the training definition (its hyperparameters are the static ones).
    :param objective_metric: the objective metric's name.
    :param owner: the Airflow identity labels every trial's resources carry.
    :param sink: the task log.
    """

    def __init__(
        self, jobs: JobBackend, base_spec: Any, objective_metric: str, owner: dict[str, str], sink: LogSink
    ) -> None:
        self.jobs = jobs
        self.base_spec = base_spec
        self.objective_metric = objective_metric
        self.owner = owner
        self.sink = sink
        self._gone_since_s: dict[str, float | None] = {}

    def spec_of(self, trial: Trial) -> Any:
        """Return a trial's training spec: the definition with the trial's hyperparameters over the static ones, and
        ``_tuning_objective_metric`` naming the objective, as SageMaker adds it to every trial.

        :param trial: the trial.
        """
        hyperparameters = {
            **self.base_spec.hyperparameters,
            **trial.hyperparameters,
            OBJECTIVE_HYPERPARAMETER: self.objective_metric,
        }
        return dataclasses.replace(self.base_spec, hyperparameters=hyperparameters)

    def start(self, trial: Trial) -> None:
        """Start the trial's training job unless it started before (a retry finds it by name and follows it).

        :param trial: a trial the state holds as running.
        """
        record = start_named_job(self.jobs, self.spec_of(trial), trial.name, self.owner, self.sink)
        if record is None:
            self.sink(f"Trial {trial.number} {trial.name} started with {trial.hyperparameters}")
        else:
            self.sink(f"Trial {trial.number} {trial.name} was started by an earlier try; following it")

    def observe(self, trial: Trial) -> bool:
        """Read a running trial's record: take its curve so far, and end the trial when its job ended, was lost, or
        ran past its deadline. Return whether the trial changed.

        :param trial: a running trial.
        """
        spec = self.spec_of(trial)
        record = self.jobs.find(spec, trial.name)
        changed = self._take_curve(trial, record)
        if record is not None and is_terminal(record.status):
            self._end(trial, record)
            return True
        alive = self.jobs.is_alive(trial.name, record)
        gone_since_s, lost = track_gone(
            alive, self._gone_since_s.get(trial.name), time.monotonic(), self.jobs.lost_grace_s
        )
        self._gone_since_s[trial.name] = gone_since_s
        if lost:
            self._end(trial, record, lost=self.jobs.lost_reason)
            return True
        if time.time() > self.jobs.deadline_epoch_s(spec, trial.name):
            self.stop(trial, "it ran past max_runtime_s and its grace period", early=False)
            return True
        return changed

    def stop(self, trial: Trial, why: str, *, early: bool) -> None:
        """Stop a running trial as SageMaker stops a training job (what it saved is kept) and note it Stopped.

        :param trial: a running trial.
        :param why: why it is stopped, for the state and the log.
        :param early: whether early stopping (or Hyperband) stopped it.
        """
        spec = self.spec_of(trial)
        stop_job(self.jobs, spec, trial.name)
        record = self.jobs.find(spec, trial.name)
        self._take_curve(trial, record)
        trial.status, trial.early_stopped, trial.failure_reason = TrialStatus.STOPPED, early, why
        trial.ended_epoch_s = time.time()
        trial.metrics = dict(record.metrics) if record is not None else {}
        # SageMaker reports a stopped trial's objective as the last value it emitted.
        trial.objective = trial.series[-1][1] if trial.series else None
        self.sink(f"Trial {trial.number} {trial.name} stopped: {why} ({self._summary(trial)})")

    def _take_curve(self, trial: Trial, record: JobRecord | None) -> bool:
        """Copy the objective metric's series so far from the trial's record; return whether it grew.

        :param trial: the trial.
        :param record: its record, or None.
        """
        series = list((record.metric_series if record is not None else {}).get(self.objective_metric, []))
        if len(series) <= len(trial.series):
            return False
        trial.series = series
        return True

    def _end(self, trial: Trial, record: JobRecord | None, lost: str = "") -> None:
        """Note how a trial's job ended and remove what it left (a failing cleanup is logged, never raised).

        :param trial: the trial.
        :param record: its final record (or the last one seen of a lost job).
        :param lost: why it counts as lost, when it does.
        """
        clean_up_keeping_error(self.jobs, self.spec_of(trial), trial.name)
        trial.ended_epoch_s = time.time()
        trial.metrics = dict(record.metrics) if record is not None else {}
        trial.objective = trial.metrics.get(self.objective_metric)
        if lost or record is None:
            trial.status, trial.failure_reason = TrialStatus.FAILED, lost
        elif record.status == JobStatus.COMPLETED and trial.objective is None:
            trial.status = TrialStatus.FAILED
            trial.failure_reason = (
                f"it completed without reporting the objective metric {self.objective_metric!r}: "
                "check its metric definition's regex against the trial's log"
            )
        else:
            trial.status, trial.failure_reason = TrialStatus(record.status), record.failure_reason
        reason = f"; {trial.failure_reason}" if trial.failure_reason else ""
        self.sink(f"Trial {trial.number} {trial.name} ended {trial.status} ({self._summary(trial)}){reason}")

    def _summary(self, trial: Trial) -> str:
        """Return a trial's objective and hyperparameters, for the log.

        :param trial: the trial.
        """
        return f"{self.objective_metric}={trial.objective}, hyperparameters {trial.hyperparameters}"
