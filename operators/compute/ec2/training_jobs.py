"""Training jobs on EC2 as the operator sees them: launch, find by tags, follow, relaunch after spot, clean up."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ml_lifecycle.compute.base import LogSink, RecordWait
from ml_lifecycle.compute.ec2.job_common import Ec2Jobs
from ml_lifecycle.compute.ec2.launcher import LaunchPlan
from ml_lifecycle.compute.inputs import list_channels
from ml_lifecycle.compute.records import written_after
from ml_lifecycle.core import contract
from ml_lifecycle.core.job_kinds import DEADLINE_MARGIN_S, job_output_uri
from ml_lifecycle.core.specs import TrainingSpec
from ml_lifecycle.core.status import JobRecord, JobStatus, SecondaryStatus, is_terminal
from ml_lifecycle.core.uris import ArtifactUri
from ml_lifecycle.errors import JobFailed

STOP_OBJECT = "stop-requested"
STOP_WAIT_S = 45.0


@dataclass(frozen=True)
class SpotPolicy:
    """Whether to use spot instances and how long to keep relaunching after interruptions.

    :param use_spot: launch spot instances.
    :param max_wait_s: seconds from the first launch within which an interrupted job is relaunched; None is
        max_runtime_s.
    """

    use_spot: bool = False
    max_wait_s: int | None = None


class Ec2TrainingJobs(Ec2Jobs):
    """Runs each training job on instances that exist only while it runs; the agent on them writes the record.

    :param spot: the spot policy.
    :param kwargs: Ec2Jobs's parameters.
    """

    def __init__(self, spot: SpotPolicy, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spot = spot
        self.launch_times: list[float] = []  # every launch by this object, relaunches included
        self.first_launch_s: float | None = None  # when this object made the job's first launch

    def staging(self, spec: TrainingSpec, job_name: str) -> ArtifactUri:
        """Return the job's staging prefix.

        :param spec: the training spec.
        :param job_name: the job's name.
        """
        return staging_uri(spec, job_name)

    def launch(self, spec: TrainingSpec, job_name: str, owner: Mapping[str, str], sink: LogSink) -> None:
        """Check the inputs and launch settings, stage the agent and the job document, launch the instances.

        :param spec: the training spec.
        :param job_name: the job's name.
        :param owner: the Airflow identity labels.
        :param sink: the task log.
        """
        self.check_inputs(spec)
        self.first_launch_s = time.time()
        self._launch(spec, job_name, dict(owner), self.resolve_ami(spec.instance_type), sink)

    def check_inputs(self, spec: TrainingSpec) -> None:
        """List every channel before anything launches (none may be empty).

        :param spec: the training spec.
        """
        list_channels(dict(spec.channels), self.store_for)

    def wait(self, spec: TrainingSpec, job_name: str, sink: LogSink) -> JobRecord | None:
        """Stream the job's logs until its record is terminal; relaunch after a spot interruption within max_wait_s.

        :param spec: the training spec.
        :param job_name: the job's name.
        :param sink: the task log.
        """
        follower = self.follower(job_name)
        hard_deadline_s = self.deadline_epoch_s(spec, job_name)
        gone_since_s: float | None = None
        while True:
            follower.poll(sink)
            record = self.find(spec, job_name)
            if record is not None and is_terminal(record.status):
                # The agent ships its last log lines after the record, then shuts the instance down: wait for that
                # (a while at most) rather than terminate it under its feet and lose the end of the log.
                self.let_instances_end(job_name, follower, sink)
                return record
            if _interrupted(record) and written_after(record, self._last_launch_s(job_name)):
                self.relaunch_after_interruption(spec, job_name, self._owner(spec, job_name), sink)
                gone_since_s = None
            elif _interrupted(record):
                gone_since_s = None  # relaunched: the new instances boot; their agent will write the record
            else:
                gone_since_s = self.lost_since(job_name, gone_since_s)
            if time.time() > hard_deadline_s:
                return record  # past its deadline: the lifecycle stops it and fails it as MaxRuntimeExceeded
            time.sleep(self.poll_interval_s)

    def deadline_epoch_s(self, spec: TrainingSpec, job_name: str) -> float:
        """Return the first launch plus max_wait_s (spot) or max_runtime_s, the stop grace and the margin.

        :param spec: the training spec.
        :param job_name: the job's name.
        """
        return self._first_launch_s(spec, job_name) + self._wait_limit_s(spec) + DEADLINE_MARGIN_S

    def record_wait(self, spec: TrainingSpec, job_name: str, deadline_epoch_s: float) -> RecordWait:
        """Wait for the record, and also wake on a spot interruption written after the last launch (to relaunch).

        :param spec: the training spec.
        :param job_name: the job's name.
        :param deadline_epoch_s: when the wait gives up.
        """
        wait = super().record_wait(spec, job_name, deadline_epoch_s)
        last_launch_s = self._last_launch_s(job_name)
        return replace(wait, wake_on_secondary=(SecondaryStatus.INTERRUPTED,), wake_after_epoch_s=last_launch_s)

    def resume(self, spec: TrainingSpec, job_name: str, event: Mapping[str, Any], sink: LogSink) -> bool:
        """Show the job's log; after a spot interruption relaunch it (within max_wait_s) and say it runs on.

        :param spec: the training spec.
        :param job_name: the job's name.
        :param event: the trigger's event.
        :param sink: the task log.
        """
        follower = self.follower(job_name)
        if event.get("secondary_status") != SecondaryStatus.INTERRUPTED or event.get("status") != JobStatus.IN_PROGRESS:
            self.let_instances_end(job_name, follower, sink)
            return False
        follower.poll(sink)
        self.relaunch_after_interruption(spec, job_name, self._owner(spec, job_name), sink)
        return True

    def _owner(self, spec: TrainingSpec, job_name: str) -> dict[str, str]:
        """Return the job's Airflow identity labels from its record (a relaunch tags the new instances alike).

        :param spec: the training spec.
        :param job_name: the job's name.
        """
        record = self.find(spec, job_name)
        return dict(record.owner) if record is not None else {}

    def relaunch_after_interruption(
        self, spec: TrainingSpec, job_name: str, owner: dict[str, str], sink: Callable[[str], None]
    ) -> list[str]:
        """Launch the job again after a spot interruption, once the interrupted instances are gone; return the new ids.

        :param spec: the training spec.
        :param job_name: the job's name.
        :param owner: the Airflow identity labels.
        :param sink: the task log.
        """
        if not self.spot.use_spot or time.time() - self._first_launch_s(spec, job_name) > self._wait_limit_s(spec):
            raise JobFailed(job_name, SecondaryStatus.INTERRUPTED, "spot interruptions outlasted max_wait_s")
        interrupted = [i["InstanceId"] for i in self.fleet.instances(job_name)]
        if interrupted:
            sink(
                f"{self.kind.title} {job_name} was interrupted; waiting for instance(s) {', '.join(interrupted)} to end"
            )
            self.fleet.wait_terminated(interrupted)
        sink(
            f"{self.kind.title} {job_name}: relaunching after a spot interruption; it resumes from its last checkpoint"
        )
        return self._launch(spec, job_name, owner, self.fleet.resolve_ami(self.settings, spec.instance_type), sink)

    def _first_launch_s(self, spec: TrainingSpec, job_name: str) -> float:
        """Return when the job was first launched: by this object, else when its record was created (relaunches keep it).

        :param spec: the training spec.
        :param job_name: the job's name.
        """
        return self.first_launch_s if self.first_launch_s is not None else self.created_s(spec, job_name)

    def _last_launch_s(self, job_name: str) -> float:
        """Return when the job's newest instances were launched: by this object, else as EC2 says (a retry), else 0.

        An Interrupted record written before this is the last interruption's, already relaunched from.

        :param job_name: the job's name.
        """
        if self.launch_times:
            return self.launch_times[-1]
        launched = [i["LaunchTime"].timestamp() for i in self.fleet.instances(job_name) if i.get("LaunchTime")]
        return max(launched, default=0.0)

    def _wait_limit_s(self, spec: TrainingSpec) -> float:
        """Return how long after the first launch the job may still run: max_wait_s (spot) or max_runtime_s, plus grace.

        :param spec: the training spec.
        """
        return float(self.spot.max_wait_s or spec.max_runtime_s) + contract.STOP_GRACE_TRAINING_S

    def stop(self, spec: TrainingSpec, job_name: str, wait_s: float = STOP_WAIT_S) -> None:
        """Ask the job's agents to stop gracefully (SIGTERM, artifacts kept) and wait a while for the final record.

        :param spec: the training spec.
        :param job_name: the job's name.
        :param wait_s: how long to wait for the record to say Stopped (Airflow kills a task's cleanup after 60 s).
        """
        uri = self.staging(spec, job_name).join(STOP_OBJECT)
        self.store_for(uri).write_bytes(uri, b"stop")
        deadline_s = time.monotonic() + wait_s
        while True:
            record = self.find(spec, job_name)
            if record is not None and is_terminal(record.status):
                return
            if time.monotonic() > deadline_s or not self.has_live_instances(job_name):
                return
            time.sleep(min(self.poll_interval_s, 1.0))

    def _launch(
        self, spec: TrainingSpec, job_name: str, owner: dict[str, str], ami_id: str | None, sink: Callable[[str], None]
    ) -> list[str]:
        """Stage the agent and the job document, then launch the instances; return their ids.

        :param spec: the training spec.
        :param job_name: the job's name.
        :param owner: the Airflow identity labels.
        :param ami_id: the AMI, or None when the launch template names it.
        :param sink: the task log.
        """
        now_s = time.time()
        plan = LaunchPlan(
            kind=self.kind.name,
            job_name=job_name,
            spec=spec,
            owner=owner,
            instance_type=spec.instance_type,
            instance_count=spec.instance_count,
            deadline_epoch_s=int(now_s + spec.max_runtime_s + contract.STOP_GRACE_TRAINING_S + DEADLINE_MARGIN_S),
            record_uri=self.record_uri(spec, job_name),
            staging=self.staging(spec, job_name),
            use_spot=self.spot.use_spot,
            ami_id=ami_id,
            attempt=len(self.launch_times) + 1,
        )
        self.launch_times.append(now_s)
        return self.launch_plan(plan, sink)


def staging_uri(spec: TrainingSpec, job_name: str) -> ArtifactUri:
    """Return the job's staging prefix ``<output_path>/<job>/staging/``.

    :param spec: the training spec.
    :param job_name: the job's name.
    """
    return job_output_uri(spec.output_path, job_name).join("staging")


def _interrupted(record: JobRecord | None) -> bool:
    """Say whether the record shows a spot interruption the job has not recovered from yet.

    :param record: the job's record, or None.
    """
    return (
        record is not None
        and record.status == JobStatus.IN_PROGRESS
        and record.secondary_status == SecondaryStatus.INTERRUPTED
    )
