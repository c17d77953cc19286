"""What EC2 training and transform jobs share: reading the record, the instances, the logs, launching, cleaning up."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from ml_lifecycle.compute.base import JobBackend
from ml_lifecycle.compute.ec2.cloudwatch_follow import CloudWatchFollower
from ml_lifecycle.compute.ec2.fleet import Ec2Fleet
from ml_lifecycle.compute.ec2.launcher import JobLauncher, LaunchPlan, check_launchable, check_registry_login
from ml_lifecycle.compute.ec2.security_group import delete_job_security_groups
from ml_lifecycle.compute.records import StoreFor, read_record
from ml_lifecycle.core.ec2.checks import check_reachable_from_ec2
from ml_lifecycle.core.ec2.settings import Ec2Settings
from ml_lifecycle.core.ec2.spec_documents import LOG_GROUPS
from ml_lifecycle.core.job_kinds import JobKind
from ml_lifecycle.core.lost_instances import LOST_GRACE_S, LOST_REASON, track_gone
from ml_lifecycle.core.status import JobRecord
from ml_lifecycle.core.uris import ArtifactUri, parse_uri

log = logging.getLogger(__name__)

LIVE_STATES = ("pending", "running")
# After the final record, how long the instances get to ship their last log lines and shut themselves down.
SETTLE_S = 30.0


@dataclass(frozen=True)
class Ec2JobClients:
    """What every EC2 job manager stages, launches and watches with.

    :param store_for: returns the store for a URI.
    :param fleet: launches and finds instances.
    :param logs: builds the CloudWatch Logs client.
    :param region: returns the region the instances run in (asked only when a job is launched or found, so a
        spec refused up front never needs one).
    :param bundle: returns the path of the agent bundle (built once and cached).
    """

    store_for: StoreFor
    fleet: Ec2Fleet
    logs: Callable[[], Any]
    region: Callable[[], str]
    bundle: Callable[[], Path]


class Ec2Jobs(JobBackend):
    """Runs each job on instances that exist only while it runs; a subclass says where its staging is and how to run.

    :param kind: the job kind.
    :param compute: the backend's registered name.
    :param aws_conn_id: the Airflow AWS connection.
    :param clients: the stores, fleet, logs client, region and agent bundle.
    :param settings: the launch settings.
    :param poll_interval_s: seconds between polls of the record, the instances and the logs.
    :param lost_grace_s: how long the instances may be gone, without a final record, before the job is lost.
    """

    lost_reason = LOST_REASON

    def __init__(
        self,
        kind: JobKind,
        compute: str,
        aws_conn_id: str | None,
        clients: Ec2JobClients,
        settings: Ec2Settings,
        poll_interval_s: float,
        lost_grace_s: float = LOST_GRACE_S,
        registry_conn_id: str | None = None,
    ) -> None:
        super().__init__(kind, compute, aws_conn_id, poll_interval_s, lost_grace_s)
        self.registry_conn_id = registry_conn_id
        self.log_group = LOG_GROUPS[kind.name]  # the CloudWatch Logs group the agents write to
        self.store_for = clients.store_for
        self.fleet = clients.fleet
        self.logs_client = clients.logs
        self._region = clients.region
        self.bundle = clients.bundle
        self.settings = settings
        self.poll_interval_s = poll_interval_s

    @cached_property
    def region(self) -> str:
        """The region the instances run in."""
        return self._region()

    def staging(self, spec: Any, job_name: str) -> ArtifactUri:
        """Return the job's staging prefix (agent bundle, job document), removed by clean_up.

        :param spec: the job's spec.
        :param job_name: the job's name.
        """
        raise NotImplementedError

    def find(self, spec: Any, job_name: str) -> JobRecord | None:
        """Read a job's record, or None when no agent wrote one yet.

        :param spec: the job's spec (it locates the record).
        :param job_name: the job's name.
        """
        uri = parse_uri(self.record_uri(spec, job_name))
        return read_record(self.store_for(uri), uri)

    def is_alive(self, job_name: str, record: JobRecord | None) -> bool:
        """Say whether the job still has live instances (found by its tag; they may still boot, with no record).

        :param job_name: the job's name.
        :param record: its record, or None.
        """
        return self.has_live_instances(job_name)

    def has_live_instances(self, job_name: str) -> bool:
        """Say whether any of the job's instances is pending or running.

        :param job_name: the job's name.
        """
        return bool(self.fleet.instances(job_name, LIVE_STATES))

    def follower(self, job_name: str) -> CloudWatchFollower:
        """Return a follower of the job's CloudWatch log streams.

        :param job_name: the job's name.
        """
        return CloudWatchFollower(self.logs_client, job_name, self.log_group)

    def let_instances_end(self, job_name: str, follower: CloudWatchFollower, sink: Callable[[str], None]) -> None:
        """After the final record, stream the log while the instances ship their last lines and end by themselves.

        :param job_name: the job's name.
        :param follower: the job's log follower.
        :param sink: the task log.
        """
        deadline_s = time.monotonic() + SETTLE_S
        while self.has_live_instances(job_name) and time.monotonic() < deadline_s:
            follower.poll(sink)
            time.sleep(min(self.poll_interval_s, 1.0))
        follower.poll(sink)

    def logs(self, spec: Any, job_name: str, tail: int | None = None) -> list[str]:
        """Return the job's CloudWatch log lines (the last ``tail`` ones, or all).

        :param spec: the job's spec.
        :param job_name: the job's name.
        :param tail: how many lines from the end, or None for all.
        """
        collected: list[str] = []
        self.follower(job_name).poll(collected.append)
        return collected if tail is None else collected[-tail:]

    def clean_up(self, spec: Any | None, job_name: str) -> None:
        """Terminate the job's instances, then delete its security group and staging objects (outputs stay).

        :param spec: the job's spec, or None when unknown (the staging objects are then kept).
        :param job_name: the job's name.
        """
        ids = [i["InstanceId"] for i in self.fleet.instances(job_name)]
        if ids:
            log.info("Terminating %d instance(s) of %s: %s", len(ids), job_name, ", ".join(ids))
            self.fleet.terminate(ids)
            self.fleet.wait_terminated(ids)
        delete_job_security_groups(self.fleet.ec2, job_name)
        if spec is not None:
            uri = self.staging(spec, job_name)
            self.store_for(uri).delete_prefix(uri)

    def resolve_ami(self, instance_type: str) -> str | None:
        """Resolve the AMI and check the launch settings against the account; return the AMI (None: the template's).

        :param instance_type: the instance type (it decides the architecture of the AMI).
        """
        ami_id = self.fleet.resolve_ami(self.settings, instance_type)
        self.fleet.preflight(self.settings, ami_id)
        return ami_id

    def launch_plan(self, plan: LaunchPlan, sink: Callable[[str], None]) -> list[str]:
        """Stage the agent and the job document, then launch the plan's instances; return their ids.

        :param plan: the launch.
        :param sink: the task log.
        """
        launcher = JobLauncher(self.store_for, self.fleet, self.region, self.settings, self.bundle)
        return launcher.launch(plan, sink)

    def lost_since(self, job_name: str, gone_since_s: float | None) -> float | None:
        """Return since when the job's instances are gone (None while some live); raise once gone for LOST_GRACE_S.

        :param job_name: the job's name.
        :param gone_since_s: what the previous call returned (monotonic seconds), or None.
        """
        alive = self.has_live_instances(job_name)
        gone_since_s, lost = track_gone(alive, gone_since_s, time.monotonic(), self.lost_grace_s)
        if lost:
            raise self.kind.failure(job_name, None, LOST_REASON, "")
        return gone_since_s

    def created_s(self, spec: Any, job_name: str) -> float:
        """Return when the job's record was created, in epoch seconds (now when there is none: a first launch).

        :param spec: the job's spec.
        :param job_name: the job's name.
        """
        record = self.find(spec, job_name)
        return (record.created_epoch_s() if record is not None else None) or time.time()

    def preflight(self, spec: Any) -> None:
        """Refuse locations and images that exist only on this machine, secrets only Airflow can read and a role
        without an instance profile, before anything launches.

        :param spec: the job's spec.
        """
        check_reachable_from_ec2(self.kind.locations(spec), spec.image_uri)
        check_registry_login(spec.image_uri, self.registry_conn_id)
        check_launchable(spec, self.fleet, self.settings)
