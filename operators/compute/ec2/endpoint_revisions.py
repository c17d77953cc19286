"""Launch and remove one revision of an EC2 endpoint: its target group and its instances (kind ``endpoint``)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from ml_lifecycle.compute.ec2.endpoint_health import RevisionTargets
from ml_lifecycle.compute.ec2.endpoint_state import EndpointState, Revision
from ml_lifecycle.compute.ec2.fleet import Ec2Fleet, ec2_errors
from ml_lifecycle.compute.ec2.launcher import JobLauncher, LaunchPlan
from ml_lifecycle.compute.ec2.load_balancer import LoadBalancer, resource_name
from ml_lifecycle.compute.records import StoreFor
from ml_lifecycle.core import labels
from ml_lifecycle.core.clock import utc_now_iso
from ml_lifecycle.core.ec2.settings import Ec2Settings
from ml_lifecycle.core.specs import EndpointSpec
from ml_lifecycle.core.uris import ArtifactUri
from ml_lifecycle.errors import ComputeError

# Endpoints have no deadline: the launcher renders none for kind "endpoint" (user data: deadline_minutes=None) and the
# reaper never ends endpoints; the tag still needs a number, so it says "in 10 years".
NO_DEADLINE_S = 10 * 365 * 24 * 3600
RUNNING_TIMEOUT_S = 600.0
POLL_S = 2.0
MAX_JOB_NAME = 63


def revision_job_name(endpoint_name: str, revision: str) -> str:
    """Return the name a revision's instances are tagged with: ``<endpoint>-<revision>``, at most 63 characters.

    :param endpoint_name: the endpoint's name.
    :param revision: the revision id.
    """
    head = endpoint_name[: MAX_JOB_NAME - len(revision) - 1].rstrip("-")
    return f"{head}-{revision}"


def revision_staging(prefix: ArtifactUri, revision: str) -> ArtifactUri:
    """Return a revision's staging prefix (agent bundle, job document, host reports).

    :param prefix: the endpoint's state prefix.
    :param revision: the revision id.
    """
    return prefix.join("revisions", revision, "staging")


def watched(revision: Revision, prefix: ArtifactUri) -> RevisionTargets:
    """Return what the health watch needs of a revision.

    :param revision: the revision.
    :param prefix: the endpoint's state prefix.
    """
    return RevisionTargets(
        revision.revision, revision.target_group_arn, revision.instance_ids, revision_staging(prefix, revision.revision)
    )


class RevisionLauncher:
    """Makes and ends the revisions of endpoints.

    :param store_for: returns the store for a URI.
    :param fleet: launches, finds and terminates instances.
    :param balancer: the ELBv2 calls.
    :param region: the region.
    :param settings: the instances' launch settings.
    :param bundle: returns the agent bundle's path.
    """

    def __init__(
        self,
        store_for: StoreFor,
        fleet: Ec2Fleet,
        balancer: LoadBalancer,
        region: str,
        settings: Ec2Settings,
        bundle: Callable[[], Path],
    ) -> None:
        self.store_for = store_for
        self.fleet = fleet
        self.balancer = balancer
        self.region = region
        self.settings = settings
        self.bundle = bundle

    def launch(
        self,
        spec: EndpointSpec,
        instance_type: str,
        state: EndpointState,
        prefix: ArtifactUri,
        revision: Revision,
        tags: Mapping[str, str],
        sink: Callable[[str], None],
    ) -> None:
        """Create the revision's target group, launch its instances and register them once running (fills revision).

        :param spec: the endpoint spec.
        :param instance_type: the instance type.
        :param state: the endpoint's state (VPC, the instances' security group).
        :param prefix: the endpoint's state prefix.
        :param revision: the new revision (its target group and instances are recorded in it as they are made).
        :param tags: the endpoint's ownership tags.
        :param sink: the task log.
        """
        name = resource_name(spec.endpoint_name, revision.revision)
        revision.target_group_arn = self.balancer.create_target_group(
            name, state.vpc_id, {**tags, labels.REVISION: revision.revision}
        )
        settings = dataclasses.replace(
            self.settings, security_group_ids=(state.instance_security_group_id, *self.settings.security_group_ids)
        )
        staging = revision_staging(prefix, revision.revision)
        plan = LaunchPlan(
            kind="endpoint",
            job_name=revision.job_name,
            spec=spec,
            owner={**state.owner, labels.ENDPOINT: spec.endpoint_name, labels.REVISION: revision.revision},
            instance_type=instance_type,
            instance_count=spec.instance_count,
            deadline_epoch_s=int(time.time() + NO_DEADLINE_S),
            record_uri=str(staging.join("status.json")),
            staging=staging,
            use_spot=False,
            ami_id=self.fleet.resolve_ami(settings, instance_type),
        )
        launcher = JobLauncher(self.store_for, self.fleet, self.region, settings, self.bundle)
        revision.instance_ids = launcher.launch(plan, sink)
        revision.created_at = utc_now_iso()
        self.wait_running(revision.instance_ids)
        self.balancer.register(revision.target_group_arn, revision.instance_ids)

    def wait_running(self, instance_ids: list[str], timeout_s: float = RUNNING_TIMEOUT_S) -> None:
        """Wait until instances are running (only running instances can be registered).

        :param instance_ids: the instances.
        :param timeout_s: the most seconds to wait.
        """
        end_s = time.monotonic() + timeout_s
        while True:
            with ec2_errors("describing instances"):
                pages = self.fleet.ec2().get_paginator("describe_instances").paginate(InstanceIds=instance_ids)
                states = {
                    i["InstanceId"]: i["State"]["Name"]
                    for p in pages
                    for r in p["Reservations"]
                    for i in r["Instances"]
                }
            ended = sorted(i for i, s in states.items() if s not in ("pending", "running"))
            if ended:
                raise ComputeError(f"Instance(s) {', '.join(ended)} ended before they ran: {states}")
            if all(states.get(i) == "running" for i in instance_ids):
                return
            if time.monotonic() > end_s:
                raise ComputeError(f"Instances {instance_ids} were not running within {timeout_s:.0f} s")
            time.sleep(POLL_S)

    def remove(self, revision: Revision, endpoint_name: str) -> None:
        """Terminate a revision's instances (found by id and by tag), wait for them, delete its target group.

        :param revision: the revision.
        :param endpoint_name: the endpoint's name.
        """
        tagged = self.fleet.find({labels.ENDPOINT: endpoint_name, labels.REVISION: revision.revision})
        ids = sorted({*revision.instance_ids, *(str(i["InstanceId"]) for i in tagged)})
        if ids:
            self.fleet.terminate(ids)
            self.fleet.wait_terminated(ids)
        if revision.target_group_arn:
            self.balancer.delete_target_group(revision.target_group_arn)
