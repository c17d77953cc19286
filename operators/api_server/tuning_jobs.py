"""Create, Describe, Stop and List HyperParameterTuningJob, and ListTrainingJobsForHyperParameterTuningJob.

A tuning job is a loop, not one container job: TuneOnEC2Operator's Tuner, stepped in a background thread of the API
process that accepted it, every poll interval, whether or not anyone asks (as SageMaker tunes). A claim beside its
stored document names that process (renewed while it steps); a Describe or Stop in any process of a tuning job
nobody steps any more (its process restarted) takes the stepping over. The tuning state is the Tuner's own document in the
artifact store (``<output>/<name>/tuning-state.json``), so a process that takes over never reruns a finished trial.
Only one process steps a tuning job: the claim is taken with the store's conditional create (stepper_claim), and the
stepper checks it still holds it before each step and before each write of the state. A Stop is its own document
(``stop.json``), never a field the stepper rewrites, so it cannot be lost to a step.
Each trial is also stored as a training job already launched, so DescribeTrainingJob and ListTrainingJobs show it
(the SDK's ``best_estimator()`` attaches to the best one that way).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from ml_lifecycle.api_server.config import ApiConfig
from ml_lifecycle.api_server.errors import ApiError, in_use, not_found, validation
from ml_lifecycle.api_server.guards import check_locations, check_role
from ml_lifecycle.api_server.jobs import OWNER_LABEL
from ml_lifecycle.api_server.names import key_of, name_in
from ml_lifecycle.api_server.state import ApiState
from ml_lifecycle.api_server.stepper_claim import Claim, ClaimLost, StepperClaims
from ml_lifecycle.api_server.tuning_states import KEPT_FIELD, KIND, NAME_FIELD, TuningStates
from ml_lifecycle.compute.lifecycle import keeping_error
from ml_lifecycle.core.errors import JobFailed
from ml_lifecycle.core.sagemaker_api.arns import resource_arn
from ml_lifecycle.core.sagemaker_api.describe_tuning import (
    ARN_TYPE,
    NOUN,
    describe_tuning_job,
    trial_summary,
    trial_training_request,
    tuning_summary,
)
from ml_lifecycle.core.sagemaker_api.listing import SortDefault, SummaryKeys, select
from ml_lifecycle.core.tuning.state import TuningState
from ml_lifecycle.tuning.warm_start import parent_trials

log = logging.getLogger(__name__)

TRAINING_KIND = "training-jobs"
TITLE = "Hyper parameter tuning job"
# How long a stepping process's claim lasts without renewal (another host takes over after it); renewed at half.
STEPPER_LEASE_S = 300.0
# Errors in a row (an unreachable store, a backend down) after which a tuning job ends Failed with the last one.
MAX_STEP_ERRORS = 5
STOPPED_BY_CALLER = "StopHyperParameterTuningJob was called"
STOP_PART = "stop.json"
OBJECTIVE = "FinalHyperParameterTuningJobObjectiveMetric"
OBJECTIVE_SORT = "FinalObjectiveMetricValue"
# botocore's model of both tuning List operations: "The default is Name" and "The default is Ascending".
BY_NAME = SortDefault("Name", "Ascending")


class TuningJobApi:
    """The tuning-job operations, over the API's state.

    :param config: the API's settings.
    :param state: the API's stored resources.
    :param settle_trial: describes a trial as a training job, which keeps its final record once it ended.
    """

    def __init__(self, config: ApiConfig, state: ApiState, settle_trial: Callable[[str], Any]) -> None:
        from ml_lifecycle.stores import store_factory

        self.config, self.state = config, state
        self.store_for = store_factory(config.aws_conn_id)
        self.states = TuningStates(state, self.store_for, settle_trial)
        self.stepping: dict[str, threading.Thread] = {}  # tuning jobs this API steps
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self.claims = StepperClaims(state, KIND, STEPPER_LEASE_S)

    def _operator(self, document: Mapping[str, Any]) -> Any:
        """Return the TuneOnEC2Operator of a stored tuning job.

        :param document: its stored document.
        """
        from ml_lifecycle.tune_on_ec2 import TuneOnEC2Operator

        request = document["request"]
        return TuneOnEC2Operator.from_sagemaker(
            request,
            task_id=request[NAME_FIELD],
            compute=document["compute"],
            aws_conn_id=self.config.aws_conn_id,
            **self.config.backend_options,
        )

    def _document(self, name: str) -> dict[str, Any]:
        """Return a tuning job's stored document, or raise SageMaker's not-found error.

        :param name: its name.
        """
        document = self.state.get(KIND, key_of(name))
        if document is None:
            raise not_found(TITLE, name)
        return document

    def create(self, request: dict[str, Any], caller: str) -> dict[str, Any]:
        """Accept a tuning job and start stepping it; refuse a taken name, a location outside S3, a role callers may
        not pass or a field that cannot be honoured first.

        :param request: the CreateHyperParameterTuningJob request.
        :param caller: the access key id that signed it.
        """
        name = name_in(request, NAME_FIELD)
        if self.state.get(KIND, key_of(name)) is not None:
            raise in_use(TITLE, name)
        document: dict[str, Any] = {
            "request": request,
            "compute": self.config.compute_for(request),
            "created_epoch_s": time.time(),
            "caller": caller,
        }
        operator = self._operator(document)
        spec, jobs = operator.build_spec(), operator.job_backend()
        check_locations(jobs.kind.locations(spec), self.config)
        check_role(spec.role_arn, self.config, "TrainingJobDefinition.RoleArn")
        jobs.preflight(spec)
        parent_trials(self.store_for, spec.output_path, operator.tuning_config())  # a missing parent is refused now
        if self.states.of(request) is not None:
            raise ApiError("ResourceInUse", f"A tuning job named {name!r} already ran under its output path: rename it")
        operator.stage_inputs(spec)
        if not self.state.create(KIND, key_of(name), document):
            raise in_use(TITLE, name)
        claim = self.claims.take(key_of(name))
        if claim is not None:
            self._start_stepping(name, claim)
        return {f"{NOUN}Arn": self._arn(name)}

    def _keep_end(self, name: str) -> None:
        """Keep an ended tuning job's state and its trials' records in the API's own state (see tuning_states).

        :param name: its name.
        """
        self.states.keep(self.states.of(self._document(name)["request"]), functools.partial(self._update, name))

    def _start_stepping(self, name: str, claim: Claim) -> None:
        """Step a tuning job in a thread of this process, unless this process already does.

        :param name: its name.
        :param claim: the claim on stepping it this process took.
        """
        with self._lock:
            if key_of(name) in self.stepping or self._closing.is_set():
                return
            thread = threading.Thread(
                target=self._step_until_ended, args=(name, claim), name=f"tune-{name}", daemon=True
            )
            self.stepping[key_of(name)] = thread
        thread.start()

    def _step_until_ended(self, name: str, claim: Claim) -> None:
        """Step a tuning job every poll interval until it ends, a Stop is asked for, its steps keep failing, or
        another process takes the stepping over.

        :param name: its name.
        :param claim: the claim on stepping it this process took.
        """
        try:
            self._steps(name, claim)
        except ClaimLost as lost:
            log.info("Tuning job %s: another process steps it now (%s)", name, lost)
        except Exception as err:
            log.exception("Tuning job %s could not go on", name)
            if self.claims.holds(claim):  # a process that lost the claim leaves the verdict to the one stepping it
                self._update(name, failure_reason=f"The tuning job could not go on: {err}")
        else:
            keeping_error(lambda: self._keep_end(name), f"Keeping {name}'s end")
        finally:
            with self._lock:
                self.stepping.pop(key_of(name), None)

    def _steps(self, name: str, claim: Claim) -> None:
        """The stepping loop (see _step_until_ended): a pass that fails (a store error, a step) is tried again at
        the next poll; MAX_STEP_ERRORS in a row stop the running trials and fail the tuning job.

        :param name: the tuning job's name.
        :param claim: the claim on stepping it this process took.
        """
        from ml_lifecycle.tuning.tuner import Tuner

        document = self._document(name)
        operator = self._operator(document)
        spec, jobs = operator.build_spec(), operator.job_backend()
        owner = {OWNER_LABEL: str(document["caller"])}
        check = functools.partial(self.claims.check, claim)
        tuner = Tuner(jobs, spec, operator.tuning_config(), [name], owner, self.store_for, log.info, check)
        check()
        tuner.resume_running()
        errors, renewed_s = 0, time.monotonic()
        while True:
            try:
                if self._pass(name, tuner, check):
                    return
                if time.monotonic() - renewed_s > STEPPER_LEASE_S / 2:
                    self.claims.renew(claim)
                    renewed_s = time.monotonic()
                errors = 0
            except ClaimLost:
                raise
            except Exception:
                errors += 1
                if errors >= MAX_STEP_ERRORS:
                    keeping_error(lambda: tuner.stop_all("the tuning job could not go on"), f"Stopping {name}'s trials")
                    raise
                log.exception("Tuning job %s: a pass failed (%d in a row); the next one retries", name, errors)
            if self._closing.wait(operator.poll_interval_s):
                keeping_error(lambda: self.claims.release(claim), f"Releasing {name}")  # the next process takes over
                return

    def _pass(self, name: str, tuner: Any, check: Callable[[], None]) -> bool:
        """Stop the tuning job if a Stop was asked for, else take one step; return True once it ended.

        :param name: its name.
        :param tuner: its Tuner.
        :param check: raises ClaimLost when this process no longer holds the claim.
        """
        document = self._document(name)
        check()
        if self._stop_requested_epoch_s(name) is not None:
            # The state says Stopped even when a trial could not be stopped (the error names it; the reaper ends it).
            keeping_error(lambda: tuner.stop(STOPPED_BY_CALLER), f"Stopping {name}'s trials")
            return True
        try:
            progress = tuner.step()
        except JobFailed:
            return True  # no trial completed: the state says Failed, and the Describe says why
        self._note_trials(document, tuner.state)
        return progress.result is not None

    def close(self, timeout_s: float = 60.0) -> None:
        """Stop stepping (the server shuts down): each tuning job goes on in the next API process that is asked
        about it, from its state; running trials run on meanwhile.

        :param timeout_s: how long to wait for the steps under way.
        """
        self._closing.set()
        with self._lock:
            threads = list(self.stepping.values())
        deadline_s = time.monotonic() + timeout_s
        for thread in threads:
            thread.join(max(deadline_s - time.monotonic(), 0.0))

    def _note_trials(self, document: Mapping[str, Any], state: TuningState) -> None:
        """Store each new trial as a training job already launched, so the training-job operations describe it.

        :param document: the tuning job's stored document.
        :param state: its state.
        """
        for trial in state.trials:
            if self.state.get(TRAINING_KIND, key_of(trial.name)) is not None:
                continue
            created_s = trial.created_epoch_s or time.time()
            self.state.create(
                TRAINING_KIND,
                key_of(trial.name),
                {
                    "request": trial_training_request(document["request"], trial),
                    "compute": document["compute"],
                    "created_epoch_s": created_s,
                    "launched_epoch_s": created_s,
                    "caller": document["caller"],
                    "tuning_job": document["request"][NAME_FIELD],
                },
            )

    def _stop_requested_epoch_s(self, name: str) -> float | None:
        """Return when StopHyperParameterTuningJob was called for a tuning job, or None when it was not.

        :param name: its name.
        """
        stop = self.state.get(KIND, key_of(name), STOP_PART)
        return float(stop["requested_epoch_s"]) if stop is not None else None

    def _update(self, name: str, **changes: Any) -> None:
        """Change some fields of a tuning job's stored document (re-read just before, so others' changes are kept).

        :param name: its name.
        :param changes: the fields to set.
        """
        document = self.state.get(KIND, key_of(name))
        if document is not None:
            document.update(changes)
            self.state.put(KIND, key_of(name), document)

    def _follow(self, name: str, document: dict[str, Any]) -> TuningState | None:
        """Return a tuning job's state, taking its stepping over when it goes on and no process steps it any more.

        :param name: its name.
        :param document: its stored document.
        """
        state = self.states.of(document["request"])
        if state is not None and state.status != "InProgress" and not document.get(KEPT_FIELD):
            self.states.keep(state, functools.partial(self._update, name))
        going_on = (state is None or state.status == "InProgress") and not document.get("failure_reason")
        if going_on and key_of(name) not in self.stepping:
            claim = self.claims.take(key_of(name))
            if claim is not None:
                log.info("Tuning job %s: its stepping process is gone; this one takes it over", name)
                self._start_stepping(name, claim)
        return state

    def describe(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Describe a tuning job from its request and its state.

        :param request: the DescribeHyperParameterTuningJob request.
        """
        name = name_in(request, NAME_FIELD)
        document = self._document(name)
        state = self._follow(name, document)
        return describe_tuning_job(
            document["request"],
            state,
            float(document["created_epoch_s"]),
            stop_requested_epoch_s=self._stop_requested_epoch_s(name),
            failure_reason=str(document.get("failure_reason") or ""),
            region=self.config.region,
            account=self.config.account_id,
            parents=self.states.parents(document["request"]),
        )

    def stop(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Ask a tuning job to stop: its stepping process stops every running trial and ends it Stopped.

        :param request: the StopHyperParameterTuningJob request.
        """
        name = name_in(request, NAME_FIELD)
        status = self.describe(request)[f"{NOUN}Status"]
        if status not in ("InProgress", "Stopping"):
            raise validation(f"{TITLE} {name!r} has already ended ({status}): nothing to stop")
        self.state.create(KIND, key_of(name), {"requested_epoch_s": time.time()}, STOP_PART)  # a second Stop: no-op
        return {}

    def list(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """List the tuning jobs the request's filters select, a page at a time.

        :param request: the ListHyperParameterTuningJobs request.
        """
        summaries = []
        for key in self.state.names(KIND):
            document = self.state.get(KIND, key)
            if document is not None:
                summaries.append(tuning_summary(self.describe({NAME_FIELD: document["request"][NAME_FIELD]})))
        keys = SummaryKeys(NAME_FIELD, f"{NOUN}Status", "LastModifiedTime", default_sort=BY_NAME)
        page, token = select(summaries, request, keys)
        return {"HyperParameterTuningJobSummaries": page, **({"NextToken": token} if token else {})}

    def list_training_jobs(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """List a tuning job's trials (ListTrainingJobsForHyperParameterTuningJob), a page at a time.

        :param request: the request.
        """
        name = name_in(request, NAME_FIELD)
        document = self._document(name)
        state = self._follow(name, document)
        region, account = self.config.region, self.config.account_id
        summaries = [trial_summary(t, state, region, account) for t in state.trials] if state is not None else []
        keys = SummaryKeys("TrainingJobName", "TrainingJobStatus", default_sort=BY_NAME)
        if request.get("SortBy") != OBJECTIVE_SORT:
            page, token = select(summaries, request, keys)
        else:
            # As SageMaker does, trials without an objective value are left out of this order.
            summaries = [s for s in summaries if OBJECTIVE in s]
            descending = (request.get("SortOrder") or BY_NAME.order) == "Descending"
            summaries.sort(key=lambda s: float(s[OBJECTIVE]["Value"]), reverse=descending)
            page, token = select(summaries, request, keys, keep_order=True)
        return {"TrainingJobSummaries": page, **({"NextToken": token} if token else {})}

    def _arn(self, name: str) -> str:
        """Return a tuning job's ARN.

        :param name: its name.
        """
        return resource_arn(ARN_TYPE, name, self.config.region, self.config.account_id)
