"""Batch transforms on EC2 as the operator sees them: launch, find by tags, follow the record and logs, clean up."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from ml_lifecycle.compute.base import LogSink
from ml_lifecycle.compute.ec2.job_common import Ec2Jobs
from ml_lifecycle.compute.ec2.launcher import LaunchPlan
from ml_lifecycle.compute.inputs import list_transform_inputs
from ml_lifecycle.core.job_kinds import DEADLINE_MARGIN_S, transform_job_uri
from ml_lifecycle.core.specs import TransformSpec
from ml_lifecycle.core.status import JobRecord, is_terminal
from ml_lifecycle.core.uris import ArtifactUri


def transform_staging_uri(output_uri: str, job_name: str) -> ArtifactUri:
    """Return the job's staging prefix ``<output_uri>/.ml-lifecycle/<job>/staging`` (beside its record, not an output).

    :param output_uri: the transform's output prefix.
    :param job_name: the job's name.
    """
    return transform_job_uri(output_uri, job_name).join("staging")


class Ec2TransformJobs(Ec2Jobs):
    """Runs each transform on instances that exist only while it runs; algo-1's agent writes the record.

    :param kwargs: Ec2Jobs's parameters.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.launched_at_s: float | None = None

    def staging(self, spec: TransformSpec, job_name: str) -> ArtifactUri:
        """Return the job's staging prefix.

        :param spec: the transform spec.
        :param job_name: the job's name.
        """
        return transform_staging_uri(spec.output_uri, job_name)

    def launch(self, spec: TransformSpec, job_name: str, owner: Mapping[str, str], sink: LogSink) -> None:
        """Check the input and launch settings, stage the agent and the job document, launch the instances.

        :param spec: the transform spec.
        :param job_name: the job's name.
        :param owner: the Airflow identity labels.
        :param sink: the task log.
        """
        objects = list_transform_inputs(spec, self.store_for)
        sink(f"Transform {job_name}: {len(objects)} input objects on {spec.instance_count} {spec.instance_type}")
        ami_id = self.resolve_ami(spec.instance_type)
        now_s = time.time()
        plan = LaunchPlan(
            kind="transform",
            job_name=job_name,
            spec=spec,
            owner=dict(owner),
            instance_type=spec.instance_type,
            instance_count=spec.instance_count,
            deadline_epoch_s=int(now_s + self.kind.max_runtime_s(spec) + DEADLINE_MARGIN_S),
            record_uri=self.record_uri(spec, job_name),
            staging=self.staging(spec, job_name),
            use_spot=False,
            ami_id=ami_id,
        )
        self.launched_at_s = now_s
        self.launch_plan(plan, sink)

    def wait(self, spec: TransformSpec, job_name: str, sink: LogSink) -> JobRecord | None:
        """Stream the job's logs until its record is final and return it; raise when its instances are lost or late.

        :param spec: the transform spec.
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
                self.let_instances_end(job_name, follower, sink)
                return record
            gone_since_s = self.lost_since(job_name, gone_since_s)
            if time.time() > hard_deadline_s:
                return record  # past its deadline: the lifecycle stops it and fails it as MaxRuntimeExceeded
            time.sleep(self.poll_interval_s)

    def deadline_epoch_s(self, spec: TransformSpec, job_name: str) -> float:
        """Return the launch (by this object, else the record's creation: a retry) plus max_runtime_s and a margin.

        :param spec: the transform spec.
        :param job_name: the job's name.
        """
        launched_s = self.launched_at_s if self.launched_at_s is not None else self.created_s(spec, job_name)
        return launched_s + self.kind.max_runtime_s(spec) + DEADLINE_MARGIN_S

    def stop(self, spec: TransformSpec, job_name: str) -> None:
        """Stop the transform by ending its instances: the outputs written so far stay (a transform saves nothing else).

        :param spec: the transform spec.
        :param job_name: the job's name.
        """
        ids = [i["InstanceId"] for i in self.fleet.instances(job_name, ("pending", "running"))]
        if ids:
            self.fleet.terminate(ids)

    def resume(self, spec: TransformSpec, job_name: str, event: Mapping[str, Any], sink: LogSink) -> bool:
        """Show the job's log as its instances ship the last of it and end by themselves (a while, at most).

        :param spec: the transform spec.
        :param job_name: the job's name.
        :param event: the trigger's event.
        :param sink: the task log.
        """
        self.let_instances_end(job_name, self.follower(job_name), sink)
        return False
