"""Launch and remove one revision of an EC2 endpoint: its target group and its Auto Scaling group of instances."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ml_lifecycle.compute.ec2.endpoint_health import RevisionTargets
from ml_lifecycle.compute.ec2.endpoint_network import load_balancer_subnets
from ml_lifecycle.compute.ec2.endpoint_state import EndpointState, Revision
from ml_lifecycle.compute.ec2.fleet import Ec2Fleet, ec2_errors
from ml_lifecycle.compute.ec2.launcher import JobLauncher, LaunchPlan
from ml_lifecycle.compute.ec2.load_balancer import LoadBalancer, resource_name
from ml_lifecycle.compute.ec2.revision_groups import RevisionGroups
from ml_lifecycle.compute.records import StoreFor
from ml_lifecycle.core import labels
from ml_lifecycle.core.clock import utc_now_iso
from ml_lifecycle.core.ec2.endpoint_scaling import ScalingBounds, launch_template_data, resource_label
from ml_lifecycle.core.ec2.settings import Ec2Settings, is_launch_template_id
from ml_lifecycle.core.specs import EndpointSpec
from ml_lifecycle.core.uris import ArtifactUri

# Endpoints have no deadline: the launcher renders none for kind "endpoint" (user data: deadline_minutes=None) and the
# reaper never ends endpoints; the tag still needs a number, so it says "in 10 years".
NO_DEADLINE_S = 10 * 365 * 24 * 3600
BOOT_ALLOWANCE_S = 600  # an instance boots, fetches the agent, pulls the image and the model before /ping can answer
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


def revision_owner(owner: Mapping[str, str], endpoint_name: str, revision: Revision) -> dict[str, str]:
    """Return the labels of a revision's instances: the endpoint's owner, with the revision's own idle limit.

    :param owner: the endpoint's owner labels (as written when it was created).
    :param endpoint_name: the endpoint's name.
    :param revision: the revision.
    """
    found = {k: v for k, v in owner.items() if k != labels.IDLE_DELETE_AFTER_H}
    if revision.idle_delete_after_h is not None:
        found[labels.IDLE_DELETE_AFTER_H] = repr(float(revision.idle_delete_after_h))
    return {**found, labels.ENDPOINT: endpoint_name, labels.REVISION: revision.revision}


def watched(revision: Revision, prefix: ArtifactUri) -> RevisionTargets:
    """Return what the health watch needs of a revision.

    :param revision: the revision.
    :param prefix: the endpoint's state prefix.
    """
    return RevisionTargets(
        revision.revision,
        revision.target_group_arn,
        revision.instance_ids,
        revision_staging(prefix, revision.revision),
        revision.group_name,
    )


class RevisionLauncher:
    """Makes and ends the revisions of endpoints.

    :param store_for: returns the store for a URI.
    :param fleet: launches, finds and terminates instances.
    :param balancer: the ELBv2 calls.
    :param region: the region.
    :param settings: the instances' launch settings.
    :param bundle: returns the agent bundle's path.
    :param groups: the Auto Scaling calls.
    :param scaling: the operator's min_instances, max_instances and target_invocations_per_instance.
    """

    def __init__(
        self,
        store_for: StoreFor,
        fleet: Ec2Fleet,
        balancer: LoadBalancer,
        region: str,
        settings: Ec2Settings,
        bundle: Callable[[], Path],
        groups: RevisionGroups,
        scaling: Mapping[str, Any],
    ) -> None:
        self.store_for = store_for
        self.fleet = fleet
        self.balancer = balancer
        self.region = region
        self.settings = settings
        self.bundle = bundle
        self.groups = groups
        self.scaling = scaling

    def bounds(self, instance_count: int) -> ScalingBounds:
        """Return a revision's bounds from the operator's scaling options.

        :param instance_count: the instances it starts with.
        """
        options = self.scaling
        return ScalingBounds.build(
            instance_count,
            options.get("min_instances"),
            options.get("max_instances"),
            options.get("target_invocations_per_instance"),
        )

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
        """Create the revision's target group and its Auto Scaling group, which launches and registers the instances.

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
            owner=revision_owner(state.owner, spec.endpoint_name, revision),
            instance_type=instance_type,
            instance_count=spec.instance_count,
            deadline_epoch_s=int(time.time() + NO_DEADLINE_S),
            record_uri=str(staging.join("status.json")),
            staging=staging,
            use_spot=False,
            ami_id=self.fleet.resolve_ami(settings, instance_type),
        )
        launcher = JobLauncher(self.store_for, self.fleet, self.region, settings, self.bundle)
        bounds = self.bounds(spec.instance_count)
        template = launch_template_data(launcher.instance_request(plan, sink), self._template_base())
        subnets = (
            [settings.subnet_id] if settings.subnet_id else load_balancer_subnets(self.fleet.ec2, state.vpc_id, ())
        )
        revision.group_name = name  # recorded before it exists, so a cleanup finds it
        revision.min_instances, revision.max_instances = bounds.min_instances, bounds.max_instances
        revision.target_invocations_per_instance = bounds.target_invocations_per_instance
        grace_s = BOOT_ALLOWANCE_S + spec.startup_timeout_s
        group_tags = {**tags, labels.REVISION: revision.revision}
        self.groups.create(
            name,
            template,
            subnets,
            revision.target_group_arn,
            bounds,
            grace_s,
            group_tags,
            drains_capture=spec.data_capture is not None,
        )
        revision.instance_ids, _ = self.groups.members(name)
        revision.created_at = utc_now_iso()
        sink(
            f"Endpoint {spec.endpoint_name}: revision {revision.revision} in Auto Scaling group {name} "
            f"({bounds.min_instances}-{bounds.max_instances} instances): {', '.join(revision.instance_ids)}"
        )

    def scale_on_requests(self, state: EndpointState, revision: Revision) -> None:
        """Attach the revision's target-tracking policy (once its target group is attached to the listener).

        :param state: the endpoint's state (its load balancer).
        :param revision: the revision.
        """
        if revision.group_name:
            bounds = ScalingBounds(
                revision.min_instances,
                revision.instance_count,
                revision.max_instances,
                revision.target_invocations_per_instance,
            )
            label = resource_label(state.load_balancer_arn, revision.target_group_arn)
            self.groups.scale_on_requests(revision.group_name, bounds, label)

    def current_instances(self, revision: Revision) -> list[str]:
        """Return a revision's instances now: its group's (replacements included), else the ones it was launched with.

        :param revision: the revision.
        """
        return self.groups.members(revision.group_name)[0] if revision.group_name else list(revision.instance_ids)

    def detach(self, revision: Revision) -> None:
        """Take a revision's instances out of its target group so the load balancer drains their requests.

        :param revision: the revision.
        """
        if revision.group_name:
            self.groups.detach(revision.group_name, revision.target_group_arn)
        else:
            self.balancer.deregister(revision.target_group_arn, revision.instance_ids)

    def protect(self, revision: Revision, protected: bool) -> None:
        """Protect a revision's instances from scale-in while a rollout moves traffic, or lift it.

        :param revision: the revision.
        :param protected: True to protect, False to lift.
        """
        if revision.group_name:
            self.groups.protect(revision.group_name, protected)

    def _template_base(self) -> dict[str, Any] | None:
        """Return the LaunchTemplateData of the launch template ec2_settings names, or None without one."""
        template = self.settings.launch_template
        if template is None:
            return None
        selector = {"LaunchTemplateId" if is_launch_template_id(template) else "LaunchTemplateName": template}
        with ec2_errors(f"reading the launch template {template}"):
            versions = self.fleet.ec2().describe_launch_template_versions(
                **selector, Versions=[self.settings.launch_template_version]
            )["LaunchTemplateVersions"]
        return dict(versions[0]["LaunchTemplateData"]) if versions else None

    def remove(self, revision: Revision, endpoint_name: str) -> None:
        """Delete a revision's group, terminate any instance of it left (by id and tag), delete its target group.

        :param revision: the revision.
        :param endpoint_name: the endpoint's name.
        """
        if revision.group_name:
            self.groups.delete(revision.group_name)
        tagged = self.fleet.find({labels.ENDPOINT: endpoint_name, labels.REVISION: revision.revision})
        ids = sorted({*revision.instance_ids, *(str(i["InstanceId"]) for i in tagged)})
        if ids:
            self.fleet.terminate(ids)
            self.fleet.wait_terminated(ids)
        if revision.target_group_arn:
            self.balancer.delete_target_group(revision.target_group_arn)
