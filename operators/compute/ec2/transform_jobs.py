"""Batch transforms on EC2 as the operator sees them: launch, find by tags, follow the record and logs, clean up."""

from __future__ import annotations

import time
from collections.abc import Callable

from ml_lifecycle.agent.transform import RECORDS_FOLDER, list_transform_inputs, transform_record_uri
from ml_lifecycle.compute.ec2.cloudwatch_follow import CloudWatchFollower
from ml_lifecycle.compute.ec2.job_common import Ec2JobClients, Ec2Jobs
from ml_lifecycle.compute.ec2.launcher import LaunchPlan
from ml_lifecycle.core.ec2_settings import Ec2Settings
from ml_lifecycle.core.spec_documents import LOG_GROUPS
from ml_lifecycle.core.specs import TransformSpec
from ml_lifecycle.core.status import JobRecord, is_terminal
from ml_lifecycle.core.uris import ArtifactUri, parse_uri
from ml_lifecycle.errors import JobFailed

TRANSFORM_LOG_GROUP = LOG_GROUPS["transform"]
# Past max_runtime_s the instances still get this long to boot, pull the image and write the record.
DEADLINE_MARGIN_S = 900
# After the final record, how long the instances get to ship their last log lines and shut themselves down.
SETTLE_S = 30.0


def transform_staging_uri(output_uri: str, job_name: str) -> ArtifactUri:
    """Return the job's staging prefix ``<output_uri>/.ml-lifecycle/<job>/staging`` (beside its record, not an output).

    :param output_uri: the transform's output prefix.
    :param job_name: the job's name.
    """
    return parse_uri(output_uri, "output_uri").join(RECORDS_FOLDER, job_name, "staging")


class Ec2TransformJobs(Ec2Jobs):
    """Runs each transform on instances that exist only while it runs; algo-1's agent writes the record."""

    log_group = TRANSFORM_LOG_GROUP

    def __init__(
        self,
        clients: Ec2JobClients,
        settings: Ec2Settings,
        instance_type: str,
        max_runtime_s: int,
        poll_interval_s: float = 5.0,
    ) -> None:
        """Hold the clients and launch settings.

        :param clients: the stores, fleet, logs client, region and agent bundle.
        :param settings: the launch settings.
        :param instance_type: the instance type of every host.
        :param max_runtime_s: seconds the transform may run; the instances end themselves after it plus a margin.
        :param poll_interval_s: seconds between polls of the record, the instances and the logs.
        """
        super().__init__(clients, settings, poll_interval_s)
        self.instance_type = instance_type
        self.max_runtime_s = max_runtime_s
        self.launched_at_s: float | None = None

    def record_uri(self, spec: TransformSpec, job_name: str) -> ArtifactUri:
        """Return the job's record, beside its outputs.

        :param spec: the transform spec (its output_uri locates the record).
        :param job_name: the job's name.
        """
        return parse_uri(transform_record_uri(spec.output_uri, job_name))

    def staging(self, spec: TransformSpec, job_name: str) -> ArtifactUri:
        """Return the job's staging prefix.

        :param spec: the transform spec.
        :param job_name: the job's name.
        """
        return transform_staging_uri(spec.output_uri, job_name)

    def start(
        self, spec: TransformSpec, job_name: str, owner: dict[str, str], sink: Callable[[str], None]
    ) -> list[str]:
        """Check the input and launch settings, stage the agent and the job document, launch; return instance ids.

        :param spec: the transform spec.
        :param job_name: the job's name.
        :param owner: the Airflow identity labels.
        :param sink: the task log.
        """
        objects = list_transform_inputs(spec, self.store_for)
        sink(f"Transform {job_name}: {len(objects)} input objects on {spec.instance_count} {self.instance_type}")
        ami_id = self.preflight(self.instance_type)
        now_s = time.time()
        plan = LaunchPlan(
            kind="transform",
            job_name=job_name,
            spec=spec,
            owner=owner,
            instance_type=self.instance_type,
            instance_count=spec.instance_count,
            deadline_epoch_s=int(now_s + self.max_runtime_s + DEADLINE_MARGIN_S),
            record_uri=transform_record_uri(spec.output_uri, job_name),
            staging=self.staging(spec, job_name),
            use_spot=False,
            ami_id=ami_id,
        )
        self.launched_at_s = now_s
        return self.launch(plan, sink)

    def follow(self, spec: TransformSpec, job_name: str, sink: Callable[[str], None]) -> JobRecord:
        """Stream the job's logs until its record is final and return it; raise when its instances are lost or late.

        :param spec: the transform spec.
        :param job_name: the job's name.
        :param sink: the task log.
        """
        follower = self.follower(job_name)
        hard_deadline_s = self.launch_time_s(spec, job_name) + self.max_runtime_s + DEADLINE_MARGIN_S
        gone_since_s: float | None = None
        while True:
            follower.poll(sink)
            record = self.record(spec, job_name)
            if record is not None and is_terminal(record.status):
                self._let_instances_end(job_name, follower, sink)
                return record
            gone_since_s = self.lost_since(job_name, gone_since_s)
            if time.time() > hard_deadline_s:
                raise JobFailed(job_name, "MaxRuntimeExceeded", "the transform ran past max_runtime_s")
            time.sleep(self.poll_interval_s)

    def _let_instances_end(self, job_name: str, follower: CloudWatchFollower, sink: Callable[[str], None]) -> None:
        """Wait a while for the instances to end by themselves (their last log lines shipped), streaming those lines.

        :param job_name: the job's name.
        :param follower: the job's log follower.
        :param sink: the task log.
        """
        deadline_s = time.monotonic() + SETTLE_S
        while self.has_live_instances(job_name) and time.monotonic() < deadline_s:
            follower.poll(sink)
            time.sleep(min(self.poll_interval_s, 1.0))
        follower.poll(sink)

    def launch_time_s(self, spec: TransformSpec, job_name: str) -> float:
        """Return when the job was launched: by this object, else when its record was created (a retry).

        :param spec: the transform spec.
        :param job_name: the job's name.
        """
        return self.launched_at_s if self.launched_at_s is not None else self.created_s(spec, job_name)
