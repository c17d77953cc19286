"""Create, Describe, Stop and List for a kind of job (training, transform), run through the compute seam.

A job is named by the caller (``TrainingJobName``): the name is the job's own on the backend, its containers and
instances carry it. Its request is stored before it launches, so any API process describes it, and a restart loses
nothing: the job's progress is its record, written by its agent. A Describe of a job that ended removes what it
left (as the operators' lifecycle does once a job ends); one past its deadline is stopped there and reported as
SageMaker reports it; one whose runner vanished without a final record is reported Failed with the reason.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ml_lifecycle.api_server.config import ApiConfig
from ml_lifecycle.api_server.errors import ApiError, in_use, not_found, validation
from ml_lifecycle.api_server.guards import check_locations, check_role
from ml_lifecycle.api_server.job_endings import ended_record, stop_then_clean
from ml_lifecycle.api_server.job_runners import RunnerCache
from ml_lifecycle.api_server.names import backend_job_name, key_of, name_in
from ml_lifecycle.api_server.process_owner import still_working, this_process
from ml_lifecycle.api_server.shapes import summary_fields
from ml_lifecycle.api_server.state import ApiState
from ml_lifecycle.compute.lifecycle import keeping_error
from ml_lifecycle.core.sagemaker_api.arns import resource_arn
from ml_lifecycle.core.sagemaker_api.describe_job import Describe
from ml_lifecycle.core.sagemaker_api.listing import SummaryKeys, select
from ml_lifecycle.core.status import JobRecord, JobStatus, SecondaryStatus, is_terminal

log = logging.getLogger(__name__)

OWNER_LABEL = "ml-lifecycle.sagemaker-api"
# A launched job with no record and no sign of its runner after this long never started.
NEVER_STARTED_S = 120.0
# How long a launch (the image pulled, the inputs listed) may take before another process gives up on it.
LAUNCH_DEADLINE_S = 3600.0
NOT_LAUNCHED = "The API server that accepted the job stopped before it started it: create it again under a new name"
OVERDUE = "MaxRuntimeExceeded: the job ran past StoppingCondition.MaxRuntimeInSeconds and was stopped"


@dataclass(frozen=True)
class JobKindApi:
    """What the API calls one kind of job.

    :param state_kind: its folder in the API's state (``training-jobs``).
    :param title: how messages name one (``Training job``).
    :param noun: the operation names' noun (``TrainingJob``).
    :param arn_type: its type in ARNs (``training-job``).
    :param operator: builds the native operator that runs the job from its stored document.
    :param describe: builds the Describe response.
    :param prepare: adds to the stored document what its request refers to (a transform's model), or None.
    :param role_field: the request field naming the execution role.
    :param backend_prefix: put before a job's name on the backend, so kinds of job never share a name there.
    :param api_locations: the job's locations the API chooses itself (not checked as a caller's are).
    """

    state_kind: str
    title: str
    noun: str
    arn_type: str
    operator: Callable[[dict[str, Any], ApiConfig], Any]
    describe: Describe
    prepare: Callable[[dict[str, Any], ApiState], None] | None = None
    role_field: str = "RoleArn"
    backend_prefix: str = ""
    api_locations: tuple[str, ...] = ()

    @property
    def name_field(self) -> str:
        """The request field naming a job (``TrainingJobName``)."""
        return f"{self.noun}Name"

    def backend_name(self, name: str) -> str:
        """Return the job's name on the backend (a training job keeps its own: its outputs are found by it).

        :param name: the job's name in the API.
        """
        return backend_job_name(self.backend_prefix, name)


class JobApi:
    """The operations of one kind of job.

    :param kind: the kind.
    :param config: the API's settings.
    :param state: the API's stored resources.
    """

    def __init__(self, kind: JobKindApi, config: ApiConfig, state: ApiState) -> None:
        self.kind, self.config, self.state = kind, config, state
        self.busy: set[str] = set()  # jobs this process is stopping or cleaning up
        self.runners = RunnerCache(self._build_runner)

    def _name(self, request: Mapping[str, Any]) -> str:
        """Return the job name a request gives.

        :param request: the request.
        """
        return name_in(request, self.kind.name_field)

    def _document(self, name: str) -> dict[str, Any]:
        """Return a job's stored document, or raise SageMaker's not-found error.

        :param name: the job's name.
        """
        document = self.state.get(self.kind.state_kind, key_of(name))
        if document is None:
            raise not_found(self.kind.title, name)
        return document

    def _build_runner(self, document: dict[str, Any]) -> tuple[Any, Any, Any]:
        """Return (operator, spec, job backend) of a stored job, as they were when it started.

        :param document: the job's stored document.
        """
        operator = self.kind.operator(document, self.config)
        operator.restore_state(document.get("resume") or {})
        return operator, operator.build_spec(), operator.job_backend()

    def create(self, request: dict[str, Any], caller: str) -> dict[str, Any]:
        """Accept a job and start it in the background (as SageMaker answers before the instances exist); refuse a
        taken name, a location outside S3, a role callers may not pass or a field that cannot be honoured first.

        :param request: the Create request.
        :param caller: the access key id that signed it.
        """
        name = self._name(request)
        if self.state.get(self.kind.state_kind, key_of(name)) is not None:
            raise in_use(self.kind.title, name)
        document: dict[str, Any] = {
            "request": request,
            "compute": self.config.compute_for(request),
            "created_epoch_s": time.time(),
            "caller": caller,
        }
        if self.kind.prepare is not None:
            self.kind.prepare(document, self.state)
        operator, spec, jobs = self._build_runner(document)
        chosen = {k: v for k, v in jobs.kind.locations(spec).items() if k not in self.kind.api_locations}
        check_locations(chosen, self.config)
        check_role(spec.role_arn, self.config, self.kind.role_field)
        job = self.kind.backend_name(name)
        jobs.preflight(spec)
        if jobs.find(spec, job) is not None or jobs.is_alive(job, None):
            raise ApiError("ResourceInUse", f"A job named {job!r} already ran here (its outputs are kept): rename it")
        operator.stage_inputs(spec)
        document.update(resume=operator.resume_state(), launcher=this_process(LAUNCH_DEADLINE_S))
        if not self.state.create(self.kind.state_kind, key_of(name), document):
            raise in_use(self.kind.title, name)
        self.runners.keep(key_of(name), document, (operator, spec, jobs))
        threading.Thread(
            target=self._launch, args=(name, spec, jobs, caller), name=f"launch-{job}", daemon=True
        ).start()
        return {f"{self.kind.noun}Arn": self._arn(name)}

    def _launch(self, name: str, spec: Any, jobs: Any, caller: str) -> None:
        """Launch an accepted job (the image pulled, the inputs listed); a launch that fails ends the job Failed with
        why, and what it made is removed.

        :param name: the job's name.
        :param spec: its spec.
        :param jobs: its job backend.
        :param caller: the access key id that asked.
        """
        job = self.kind.backend_name(name)
        try:
            jobs.launch(spec, job, {OWNER_LABEL: caller}, log.info)
            jobs.release(job)
        except Exception as err:
            log.exception("%s %s could not start", self.kind.title, name)
            failed = ended_record(
                job, None, JobStatus.FAILED, SecondaryStatus.FAILED, f"The job could not start: {err}"
            )
            self._update(name, settled=failed.to_dict())
            keeping_error(lambda: jobs.clean_up(spec, job), f"Cleanup of {job}")
            return
        self._update(name, launched_epoch_s=time.time())

    def _update(self, name: str, **changes: Any) -> dict[str, Any] | None:
        """Change some fields of a job's stored document (re-read just before, so others' changes are kept).

        :param name: the job's name.
        :param changes: the fields to set.
        """
        document = self.state.get(self.kind.state_kind, key_of(name))
        if document is None:
            return None
        document.update(changes)
        self.state.put(self.kind.state_kind, key_of(name), document)
        return document

    def describe(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Describe a job from its request and its record; a job that ended has what it left removed.

        :param request: the Describe request.
        """
        name = self._name(request)
        document = self._document(name)
        record = self._settled_record(name, document)
        return self.kind.describe(
            document["request"], record, float(document["created_epoch_s"]), self.config.region, self.config.account_id
        )

    def _settled_record(self, name: str, document: dict[str, Any]) -> JobRecord | None:
        """Return the job's record as SageMaker would report it, settling a job that ended, overran or was lost.

        :param name: the job's name.
        :param document: its stored document.
        """
        if document.get("settled"):
            return JobRecord.from_dict(document["settled"])
        job = self.kind.backend_name(name)
        if "launched_epoch_s" not in document:
            if still_working(document.get("launcher") or {}):
                return None  # being launched: InProgress, Starting
            lost = ended_record(job, None, JobStatus.FAILED, SecondaryStatus.FAILED, NOT_LAUNCHED)
            return self._settle(name, lost, lambda: None)
        _, spec, jobs = self.runners.get(key_of(name), document)
        record = jobs.find(spec, job)
        if record is not None and is_terminal(record.status):
            return self._settle(name, record, lambda: jobs.clean_up(spec, job))
        if time.time() > jobs.deadline_epoch_s(spec, job):
            overdue = ended_record(job, record, JobStatus.STOPPED, SecondaryStatus.MAX_RUNTIME_EXCEEDED, OVERDUE)
            return self._settle(name, overdue, lambda: self._in_background(job, stop_then_clean, jobs, spec, job))
        started_s = float(document["launched_epoch_s"])
        if (record is not None or time.time() - started_s > NEVER_STARTED_S) and not jobs.is_alive(job, record):
            lost = ended_record(job, record, JobStatus.FAILED, SecondaryStatus.FAILED, jobs.lost_reason)
            return self._settle(name, lost, lambda: jobs.clean_up(spec, job))
        if document.get("stop_requested"):
            self._in_background(job, jobs.stop, spec, job)  # again: an agent may not have had its pid recorded yet
            return dataclasses.replace(record, status=JobStatus.STOPPING) if record is not None else None
        return record

    def _in_background(self, job: str, work: Callable[..., Any], *args: Any) -> None:
        """Run a stop or cleanup in a thread, one at a time per job in this process (it may wait for the job).

        :param job: the backend job name.
        :param work: the work.
        :param args: its arguments.
        """
        if job in self.busy:
            return
        self.busy.add(job)

        def run() -> None:
            try:
                work(*args)
            except Exception:
                log.exception("Stopping or removing %s failed; the orphan reaper removes what is left", job)
            finally:
                self.busy.discard(job)

        threading.Thread(target=run, name=f"settle-{job}", daemon=True).start()

    def _settle(self, name: str, record: JobRecord, release: Callable[[], None]) -> JobRecord:
        """Remove what an ended job left and keep its final record, so later Describes read only the document.

        :param name: the job's name.
        :param record: its final record.
        :param release: stops it, if needed, and removes what it created.
        """
        keeping_error(release, f"Cleanup of {name}")
        self._update(name, settled=record.to_dict())
        return record

    def stop(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Ask a running job to stop (it reports Stopping, then Stopped once its agent saved what it had).

        :param request: the Stop request.
        """
        name = self._name(request)
        document = self._document(name)
        record = self._settled_record(name, document)
        if record is not None and is_terminal(record.status):
            raise validation(f"{self.kind.title} {name!r} has already ended ({record.status}): nothing to stop")
        self._update(name, stop_requested=True)
        if "launched_epoch_s" in document:
            _, spec, jobs = self.runners.get(key_of(name), document)
            job = self.kind.backend_name(name)
            self._in_background(job, jobs.stop, spec, job)
        return {}

    def list(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """List the jobs the request's filters select, a page at a time.

        :param request: the List request.
        """
        summaries = [self._summary(name) for name in self.state.names(self.kind.state_kind)]
        keys = SummaryKeys(self.kind.name_field, f"{self.kind.noun}Status", "LastModifiedTime")
        page, token = select([s for s in summaries if s], request, keys)
        response: dict[str, Any] = {f"{self.kind.noun}Summaries": page}
        if token is not None:
            response["NextToken"] = token
        return response

    def _summary(self, name: str) -> dict[str, Any]:
        """Return a job's summary for List, or {} when it was deleted meanwhile.

        :param name: the job's name.
        """
        document = self.state.get(self.kind.state_kind, name)
        if document is None:
            return {}
        name = str(document["request"][self.kind.name_field])
        description = self.describe({self.kind.name_field: name})
        summary = {
            self.kind.name_field: name,
            f"{self.kind.noun}Arn": self._arn(name),
            "CreationTime": description["CreationTime"],
            f"{self.kind.noun}Status": description[f"{self.kind.noun}Status"],
        }
        for field in summary_fields(f"{self.kind.noun}Summary"):
            if field in description and field not in summary:
                summary[field] = description[field]
        return summary

    def log_lines(self, name: str) -> tuple[str, list[str], float] | None:
        """Return a job's name as it was given, its log lines and when it was accepted, or None for a job this API
        does not know.

        :param name: the job's name, in any case.
        """
        document = self.state.get(self.kind.state_kind, key_of(name))
        if document is None:
            return None
        original = str(document["request"][self.kind.name_field])
        _, spec, jobs = self.runners.get(key_of(name), document)
        return original, jobs.logs(spec, self.kind.backend_name(original)), float(document["created_epoch_s"])

    def _arn(self, name: str) -> str:
        """Return a job's ARN.

        :param name: the job's name.
        """
        return resource_arn(self.kind.arn_type, name, self.config.region, self.config.account_id)
