"""A tuning job's loop, one step at a time: follow the running trials, stop the hopeless, start the next ones.

Every step starts from the state in the artifact store and ends by writing it back, so the step after a retry or a
deferral is the step that would have come next. At most MaxParallelTrainingJobs trials run at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ml_lifecycle.compute.base import JobBackend, LogSink
from ml_lifecycle.compute.lifecycle import outcome_of
from ml_lifecycle.core.tuning.config import TuningConfig
from ml_lifecycle.core.tuning.state import Trial, TuningState, trial_name
from ml_lifecycle.errors import ComputeError, JobFailed
from ml_lifecycle.stores import StoreFor
from ml_lifecycle.tuning.search import Search, hyperparameters_of
from ml_lifecycle.tuning.state_store import read_state, state_uri, write_state
from ml_lifecycle.tuning.trials import TrialJobs
from ml_lifecycle.tuning.warm_start import parent_trials


@dataclass(frozen=True)
class Progress:
    """Where a tuning job stands after a step.

    :param running: the trials running now (empty once the tuning job ended).
    :param result: the tuning job's XCom value once it ended, else None.
    """

    running: list[Trial] = field(default_factory=list)
    result: dict[str, Any] | None = None


class Tuner:
    """Drives one tuning job of a task instance.

    :param jobs: the backend's training jobs.
    :param base_spec: the training definition (its hyperparameters are the static ones).
    :param config: the tuning settings.
    :param names: the tuning job's names, one per attempt (a task instance's), or the one its caller gave: the first
        without a failed state is opened.
    :param owner: the labels every trial's resources carry (the task instance's, or the API caller's).
    :param store_for: returns the store for a URI.
    :param sink: the task log.
    :param before_save: called before every write of the state; raises to keep a process that lost the right to
        step the tuning job (another took it over) from writing it. None checks nothing.
    """

    def __init__(
        self,
        jobs: JobBackend,
        base_spec: Any,
        config: TuningConfig,
        names: Sequence[str],
        owner: Mapping[str, str],
        store_for: StoreFor,
        sink: LogSink,
        before_save: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self.before_save = before_save
        self.base_spec = base_spec
        self.store_for = store_for
        self.sink = sink
        self.trials = TrialJobs(jobs, base_spec, config.objective.metric_name, dict(owner), sink)
        self.state = self._open(names)
        self.uri = state_uri(base_spec.output_path, self.state.tuning_job_name)
        self.seeded = self._warm_start_trials()
        self._saved: dict[str, Any] | None = None
        self._judged: dict[str, int] = {}  # trial name -> the steps of its curve already judged

    def _open(self, names: Sequence[str]) -> TuningState:
        """Return the tuning state of the first name whose tuning job did not fail, or a new one.

        :param names: the tuning job's names, in the order they are tried.
        """
        for name in names:
            state = read_state(self.store_for, state_uri(self.base_spec.output_path, name))
            if state is None:
                self.sink(f"Tuning job {name}: {self.config.strategy} search of {self.config.ranges.names()}")
                return TuningState(
                    name,
                    self.config.strategy,
                    self.config.objective.metric_name,
                    self.config.objective.type,
                    time.time(),
                )
            if state.status != "Failed":
                self.sink(f"Tuning job {name} resumes with {len(state.trials)} trial(s) started ({state.counts()})")
                return state
        raise RuntimeError(f"The tuning jobs {list(names)} all failed; clear them under output_path")

    def _warm_start_trials(self) -> list[Trial]:
        """Return the completed trials of the warm start's parents (tuning jobs under the same output_path)."""
        seeded = parent_trials(self.store_for, self.base_spec.output_path, self.config)
        if self.config.warm_start is not None:
            parents = list(self.config.warm_start.parents)
            self.sink(f"Warm start ({self.config.warm_start.type}): {len(seeded)} completed trial(s) of {parents}")
        return seeded

    def resume_running(self) -> None:
        """Start or find again the trials the state holds as running (a retry follows them; a trial noted but never
        started, when the task died in between, starts now)."""
        for trial in self.state.running():
            self.trials.start(trial)

    def step(self) -> Progress:
        """Follow the running trials, stop the hopeless ones, start new ones; return where the tuning job stands."""
        if self.state.status != "InProgress":
            return Progress(result=self._finish())
        for trial in self.state.running():
            self.trials.observe(trial)
        if self._past_runtime():
            self._stop_running("the tuning job reached its MaxRuntimeInSeconds")
            return Progress(result=self._finish())
        self._stop_hopeless()
        self._start_next()
        self._save()
        running = self.state.running()
        if not running and len(self.state.trials) >= self.config.max_training_jobs:
            return Progress(result=self._finish())
        return Progress(running=running)

    def stop_all(self, why: str) -> None:
        """Stop every running trial and keep the state (a killed task: its retry starts the next trials).

        :param why: why, for the state and the log.
        """
        try:
            self._stop_running(why)
        finally:
            self._save()

    def _stop_running(self, why: str) -> None:
        """Stop every running trial, each one even when stopping another failed; then raise one error naming those
        that could not be stopped.

        :param why: why, for the state and the log.
        """
        failed: dict[str, str] = {}
        for trial in self.state.running():
            try:
                self.trials.stop(trial, why, early=False)
            except Exception as err:
                failed[trial.name] = f"{type(err).__name__}: {err}"
        if failed:
            raise ComputeError(
                f"Could not stop {len(failed)} trial(s) of tuning job {self.state.tuning_job_name}: {failed}. "
                "Stop them on their backend (their containers or instances carry the tuning task's labels), or let "
                "the orphan reaper end them"
            )

    def stop(self, why: str) -> None:
        """End the tuning job Stopped, as StopHyperParameterTuningJob does: every running trial stopped (what it saved
        is kept); the best completed trial so far stays its result.

        :param why: why, for the state and the log.
        """
        try:
            self._stop_running(why)
        finally:
            self.state.status, self.state.ended_epoch_s = "Stopped", time.time()
            self._save()

    def record_uris(self, trials: list[Trial]) -> dict[str, str]:
        """Return trial name -> its record's URI (what a deferred task waits on).

        :param trials: the trials.
        """
        return {t.name: self.trials.jobs.record_uri(self.trials.spec_of(t), t.name) for t in trials}

    def deadline_epoch_s(self, trials: list[Trial]) -> float:
        """Return when a wait for the running trials must end: the tuning job's runtime limit, or the last trial's.

        :param trials: the running trials.
        """
        jobs = self.trials.jobs
        latest = max(jobs.deadline_epoch_s(self.trials.spec_of(t), t.name) for t in trials)
        if self.config.max_runtime_s is None:
            return latest
        return min(latest, self.state.started_epoch_s + self.config.max_runtime_s)

    def _past_runtime(self) -> bool:
        """Say whether the tuning job has run past its MaxRuntimeInSeconds."""
        limit_s = self.config.max_runtime_s
        return limit_s is not None and time.time() > self.state.started_epoch_s + limit_s

    def _stop_hopeless(self) -> None:
        """Stop the running trials the pruner gives up on (early stopping Auto, or Hyperband)."""
        if self.config.early_stopping != "Auto" and self.config.strategy != "Hyperband":
            return
        grown = [t for t in self.state.running() if len(t.series) > self._judged.get(t.name, 0)]
        if not grown:
            return  # no curve has a new step since the last judgement: nothing to decide
        search = Search(self.config, self.state.tuning_job_name, self.state.trials, self.seeded)
        for trial in grown:
            self._judged[trial.name] = len(trial.series)
            stop, trial.search_attrs = search.should_stop(trial)
            if stop:
                step = len(trial.series)
                self.trials.stop(trial, f"early stopping: its curve at step {step} cannot catch up", early=True)

    def _start_next(self) -> None:
        """Start trials until MaxParallelTrainingJobs run or MaxNumberOfTrainingJobs have started."""
        search: Search | None = None
        while (
            len(self.state.running()) < self.config.max_parallel_training_jobs
            and len(self.state.trials) < self.config.max_training_jobs
        ):
            search = search or Search(self.config, self.state.tuning_job_name, self.state.trials, self.seeded)
            number = len(self.state.trials) + 1
            params, attrs = search.propose(number)
            name = trial_name(self.state.tuning_job_name, number)
            trial = Trial(
                number,
                name,
                hyperparameters_of(self.config, params),
                params,
                search_attrs=attrs,
                created_epoch_s=time.time(),
            )
            self.state.trials.append(trial)
            self._save()  # noted before it starts: a retry finds it by name
            self.trials.start(trial)

    def _finish(self) -> dict[str, Any]:
        """End the tuning job: return the best trial's result, or fail when no trial completed."""
        best = self.state.best(self.seeded)
        counts = self.state.counts()
        if best is None:
            if self.state.status == "InProgress":
                self.state.status, self.state.ended_epoch_s = "Failed", time.time()
                self._save()
            reasons = sorted({t.failure_reason for t in self.state.trials if t.failure_reason})[:3]
            raise JobFailed(
                self.state.tuning_job_name,
                self.state.status,
                f"none of its trials completed ({counts}); reasons: {reasons}",
            )
        if self.state.status == "InProgress":
            self.state.status, self.state.ended_epoch_s = "Completed", time.time()
            self._save()
        spec = self.trials.spec_of(best)
        record = self.trials.jobs.find(spec, best.name)
        outputs = dict(outcome_of(self.trials.jobs, spec, best.name, record).outputs) if record is not None else {}
        self.sink(f"Tuning job {self.state.tuning_job_name} ended: best {best.name} {self._objective(best)} {counts}")
        return {
            "tuning_job_name": self.state.tuning_job_name,
            "status": self.state.status,
            "state_uri": str(self.uri),
            "best_training_job_name": best.name,
            "best_hyperparameters": dict(best.hyperparameters),
            "objective": {
                "metric_name": self.config.objective.metric_name,
                "type": self.config.objective.type,
                "value": best.objective,
            },
            "metrics": dict(best.metrics),
            "trials": counts,
            **outputs,
        }

    def _save(self) -> None:
        """Write the state when it changed since it was last written (a poll that saw nothing new writes nothing)."""
        document = self.state.to_dict()
        if document != self._saved:
            if self.before_save is not None:
                self.before_save()
            write_state(self.store_for, self.uri, self.state)
            self._saved = document

    def _objective(self, trial: Trial) -> str:
        """Return a trial's objective for the log.

        :param trial: the trial.
        """
        return f"{self.config.objective.metric_name}={trial.objective}"
