"""EC2 endpoints: instances behind an internal Application Load Balancer, created, updated blue/green and deleted."""

from __future__ import annotations

import logging
from collections.abc import Callable

from ml_lifecycle.compute.ec2.endpoint_capture_drain import drain_capture
from ml_lifecycle.compute.ec2.endpoint_entry import EndpointEntry
from ml_lifecycle.compute.ec2.endpoint_health import HealthWatch
from ml_lifecycle.compute.ec2.endpoint_lock import EndpointLease
from ml_lifecycle.compute.ec2.endpoint_network import EndpointNetwork, create_endpoint_groups, load_balancer_subnets
from ml_lifecycle.compute.ec2.endpoint_revisions import (
    BOOT_ALLOWANCE_S,
    RevisionLauncher,
    revision_job_name,
    watched,
)
from ml_lifecycle.compute.ec2.endpoint_rollout import Rollout, RolloutPolicy
from ml_lifecycle.compute.ec2.endpoint_state import (
    CREATING,
    FAILED,
    IN_SERVICE,
    UPDATING,
    EndpointState,
    Revision,
    StateStore,
    idle_limit_h,
    new_revision_id,
    newest_revision,
)
from ml_lifecycle.compute.ec2.endpoint_teardown import STATE_TAG, locate_state_prefix, remove_endpoint_resources
from ml_lifecycle.compute.ec2.fleet import Ec2Fleet
from ml_lifecycle.compute.ec2.launcher import check_launchable
from ml_lifecycle.compute.ec2.load_balancer import LoadBalancer, resource_name
from ml_lifecycle.compute.records import StoreFor
from ml_lifecycle.core import labels
from ml_lifecycle.core.ec2.endpoint_access import EndpointAccess
from ml_lifecycle.core.ec2.settings import MAX_TAG_VALUE_CHARS
from ml_lifecycle.core.specs import EndpointSpec
from ml_lifecycle.core.uris import ArtifactUri
from ml_lifecycle.errors import SpecError

log = logging.getLogger(__name__)


def endpoint_tags(state: EndpointState, prefix: ArtifactUri) -> dict[str, str]:
    """Return the ownership tags of an endpoint's load balancer, groups and security groups.

    :param state: the endpoint's state.
    :param prefix: its state prefix (a tag, so DeleteEndpointOperator finds the state by the endpoint's name).
    """
    owned = labels.owned("endpoint", state.endpoint_name, state.owner, endpoint=state.endpoint_name)
    return {**owned, STATE_TAG: str(prefix), "Name": state.endpoint_name}


def boot_timeout_s(spec: EndpointSpec) -> float:
    """Return how long a new revision may take to become healthy: the instances' boot, then the model's startup.

    :param spec: the endpoint spec.
    """
    return float(BOOT_ALLOWANCE_S + spec.startup_timeout_s)


class Ec2Endpoints:
    """Deploys, updates and deletes endpoints on EC2; the state of each lives in S3 beside its staging.

    :param store_for: returns the store for a URI.
    :param fleet: launches, finds and terminates instances.
    :param balancer: the ELBv2 calls.
    :param health: the health watch.
    :param revisions: launches and removes revisions.
    :param region: the region.
    :param network: the load balancer's placement and callers.
    :param entry: admits the access asked for and opens the listener and IAM gateway.
    """

    def __init__(
        self,
        store_for: StoreFor,
        fleet: Ec2Fleet,
        balancer: LoadBalancer,
        health: HealthWatch,
        revisions: RevisionLauncher,
        region: str,
        network: EndpointNetwork,
        entry: EndpointEntry,
    ) -> None:
        self.store_for = store_for
        self.fleet = fleet
        self.balancer = balancer
        self.health = health
        self.revisions = revisions
        self.region = region
        self.network = network
        self.entry = entry

    def deploy(
        self,
        spec: EndpointSpec,
        instance_type: str,
        owner: dict[str, str],
        prefix: ArtifactUri,
        policy: RolloutPolicy,
        sink: Callable[[str], None],
    ) -> EndpointState:
        """Create the endpoint, or update it blue/green when it serves already; return its state once InService.

        :param spec: the endpoint spec.
        :param instance_type: the instances' type.
        :param owner: the Airflow identity labels.
        :param prefix: the endpoint's state prefix.
        :param policy: how an update shifts traffic and what rolls it back.
        :param sink: the task log.
        """
        self.check_deployable(spec, instance_type, prefix)
        with self.lease(prefix, spec.endpoint_name, owner):
            return self._deploy(spec, instance_type, owner, prefix, policy, sink)

    def check_deployable(self, spec: EndpointSpec, instance_type: str, prefix: ArtifactUri) -> None:
        """Refuse, before anything is made, what cannot be launched (state prefix, image, AMI, permissions).

        :param spec: the endpoint spec.
        :param instance_type: the instances' type.
        :param prefix: the endpoint's state prefix.
        """
        if len(str(prefix)) > MAX_TAG_VALUE_CHARS:
            raise SpecError("state_uri", f"is over {MAX_TAG_VALUE_CHARS} characters", "Use a shorter prefix")
        check_launchable(spec, self.fleet, self.revisions.settings)
        self.fleet.preflight(self.revisions.settings, self.fleet.resolve_ami(self.revisions.settings, instance_type))

    def lease(self, prefix: ArtifactUri, endpoint_name: str, holder: dict[str, str]) -> EndpointLease:
        """Return the endpoint's lease (use it as a context manager): one deploy or delete at a time.

        :param prefix: the endpoint's state prefix.
        :param endpoint_name: the endpoint's name.
        :param holder: who takes it (the Airflow identity labels).
        """
        return EndpointLease(self.store_for(prefix).client, prefix, endpoint_name, dict(holder))

    def _deploy(
        self,
        spec: EndpointSpec,
        instance_type: str,
        owner: dict[str, str],
        prefix: ArtifactUri,
        policy: RolloutPolicy,
        sink: Callable[[str], None],
    ) -> EndpointState:
        """Deploy while holding the endpoint's lease (see deploy): launch, wait until healthy, then shift traffic.

        :param spec: the endpoint spec.
        :param instance_type: the instances' type.
        :param owner: the Airflow identity labels.
        :param prefix: the endpoint's state prefix.
        :param policy: how an update shifts traffic and what rolls it back.
        :param sink: the task log.
        """
        store, state, green = self.launch(spec, instance_type, owner, prefix, sink)
        try:
            startup_s = self.health.wait_healthy(watched(green, prefix), boot_timeout_s(spec), sink)
        except BaseException as err:
            self.abandon(store, state, green, err, sink)
            raise
        sink(f"Endpoint {spec.endpoint_name}: revision {green.revision} is healthy after {startup_s:.0f} s")
        if state.live is None:
            return self.created(store, state, green, sink)
        self.rollout(store).shift(state, green, policy, sink)
        sink(f"Endpoint {spec.endpoint_name} InService at {state.url}: revision {green.revision}")
        return state

    def rollout(self, store: StateStore) -> Rollout:
        """Return the traffic shift of an endpoint.

        :param store: the endpoint's state store.
        """
        return Rollout(self.balancer, self.health, self.revisions, store)

    def launch(
        self,
        spec: EndpointSpec,
        instance_type: str,
        owner: dict[str, str],
        prefix: ArtifactUri,
        sink: Callable[[str], None],
    ) -> tuple[StateStore, EndpointState, Revision]:
        """Launch the new revision (creating the endpoint's resources first when it has none) without waiting for it.

        An update's revision is attached at weight 0, a creation's at 100; a failure undoes what was made.

        :param spec: the endpoint spec.
        :param instance_type: the instances' type.
        :param owner: the Airflow identity labels.
        :param prefix: the endpoint's state prefix.
        :param sink: the task log.
        """
        store = StateStore(self.store_for, prefix)
        state = store.read()
        vpc_id = (
            state.vpc_id if state is not None and state.live is not None else self.fleet.vpc_of(self.revisions.settings)
        )
        access = self.entry.admit(spec.endpoint_name, self.network.access, state, vpc_id)  # before anything is made
        if state is not None and state.pending is not None:  # a deploy that died midway (a retried task)
            sink(f"Endpoint {spec.endpoint_name}: removing revision {state.pending.revision} left by an earlier try")
            if state.live is None:  # a creation that never finished: start over
                self.remove_resources(state)
                state = None
            else:
                self.rollout(store).roll_back(
                    state, state.pending, RuntimeError("the task that deployed it ended"), sink
                )
        revision_id = new_revision_id(after=newest_revision(state))
        green = Revision(
            revision_id,
            revision_job_name(spec.endpoint_name, revision_id),
            model_uri=spec.model_uri,
            image_uri=spec.image_uri,
            instance_count=spec.instance_count,
            instance_type=instance_type,
            idle_delete_after_h=idle_limit_h(owner),  # an update may opt out or change it: the serving revision's holds
        )
        if state is None or state.live is None:
            return store, self._create(spec, instance_type, owner, store, green, access, sink), green
        state.status, state.pending = UPDATING, green
        store.write(state)
        try:
            self.revisions.launch(spec, instance_type, state, prefix, green, endpoint_tags(state, prefix), sink)
            store.write(state)
            weights = {state.live.target_group_arn: 100, green.target_group_arn: 0}
            self.balancer.set_weights(state.listener_arn, weights)  # attached, so the load balancer checks it
            self.revisions.scale_on_requests(state, green)  # its requests per target exist once it is attached
        except BaseException as err:
            self.rollout(store).roll_back(state, green, err, sink)
            raise
        return store, state, green

    def abandon(
        self, store: StateStore, state: EndpointState, green: Revision, err: BaseException, sink: Callable[[str], None]
    ) -> None:
        """Give up a revision that did not become healthy: undo a creation, or roll an update back.

        :param store: the endpoint's state store.
        :param state: the endpoint's state.
        :param green: the revision.
        :param err: why.
        :param sink: the task log.
        """
        if state.live is None:
            self._undo_create(state, err)
            store.write(state)
        else:
            self.rollout(store).roll_back(state, green, err, sink)

    def created(
        self, store: StateStore, state: EndpointState, revision: Revision, sink: Callable[[str], None]
    ) -> EndpointState:
        """Make a new endpoint's healthy first revision live.

        :param store: the endpoint's state store.
        :param state: the endpoint's state.
        :param revision: its first revision.
        :param sink: the task log.
        """
        state.live, state.pending, state.status = revision, None, IN_SERVICE
        state.note(revision.revision, "created")
        store.write(state)
        sink(f"Endpoint {state.endpoint_name} InService at {state.url}: revision {revision.revision}")
        return state

    def _create(
        self,
        spec: EndpointSpec,
        instance_type: str,
        owner: dict[str, str],
        store: StateStore,
        revision: Revision,
        access: EndpointAccess,
        sink: Callable[[str], None],
    ) -> EndpointState:
        """Create the security groups, load balancer, first revision, listener and IAM gateway; undo all on a failure.

        :param spec: the endpoint spec.
        :param instance_type: the instances' type.
        :param owner: the Airflow identity labels.
        :param store: the endpoint's state store.
        :param revision: the first revision.
        :param access: who may reach it, admitted and resolved.
        :param sink: the task log.
        """
        name = spec.endpoint_name
        state = EndpointState(name, CREATING, self.region, owner=dict(owner), access=access.to_dict())
        store.write(state)
        tags = endpoint_tags(state, store.prefix)
        try:
            state.vpc_id = self.fleet.vpc_of(self.revisions.settings)
            subnets = load_balancer_subnets(self.fleet.ec2, state.vpc_id, self.network.alb_subnet_ids)
            groups = create_endpoint_groups(self.fleet.ec2, name, state.vpc_id, access, tags)
            state.alb_security_group_id, state.instance_security_group_id, state.link_security_group_id = groups
            store.write(state)
            state.load_balancer_arn, state.dns_name = self.balancer.create(
                resource_name(name), subnets, state.alb_security_group_id, access.scheme, tags
            )
            state.pending = revision
            store.write(state)
            self.revisions.launch(spec, instance_type, state, store.prefix, revision, tags, sink)
            store.write(state)
            self.entry.open(state, {revision.target_group_arn: 100}, subnets, tags)
            revision.weight = 100
            store.write(state)
            self.revisions.scale_on_requests(state, revision)
        except BaseException as err:
            self._undo_create(state, err)
            store.write(state)
            raise
        return state

    def _undo_create(self, state: EndpointState, err: BaseException) -> None:
        """Remove whatever a failed creation made and mark the state Failed; cleanup errors are logged, not raised.

        :param state: the endpoint's state.
        :param err: the creation's error.
        """
        try:
            self.remove_resources(state)
        except Exception as cleanup:
            log.warning("Endpoint %s: cleanup after the failed creation failed too: %s", state.endpoint_name, cleanup)
        reason = f"{type(err).__name__}: {err}"[:1024]
        failed = EndpointState(
            state.endpoint_name, FAILED, state.region, failure_reason=reason, owner=state.owner, history=state.history
        )
        failed.note(state.pending.revision if state.pending else "", "failed", reason)
        state.__dict__.update(failed.__dict__)

    def remove_resources(self, state: EndpointState | None, endpoint_name: str = "") -> dict[str, int]:
        """Delete an endpoint's load balancer, instances, target groups and security groups (by state and by tags).

        :param state: the endpoint's state, or None when it is lost (tags alone find the resources).
        :param endpoint_name: the endpoint's name (default the state's).
        """
        return remove_endpoint_resources(
            self.fleet, self.balancer, self.entry.gateway, self.revisions.groups, state, endpoint_name
        )

    def locate(self, endpoint_name: str) -> ArtifactUri | None:
        """Find an endpoint's state prefix from the tag on its security groups, or None.

        :param endpoint_name: the endpoint's name.
        """
        return locate_state_prefix(self.fleet, endpoint_name)

    def delete(
        self,
        endpoint_name: str,
        prefix: ArtifactUri | None,
        sink: Callable[[str], None],
        holder: dict[str, str] | None = None,
    ) -> dict[str, int]:
        """Delete an endpoint: listener, load balancer, instances, target groups, security groups, then its state.

        Not while another DAG run deploys it (EndpointBusy): the endpoint's lease is taken first.

        :param endpoint_name: the endpoint's name.
        :param prefix: its state prefix, or None to find it by the endpoint's tags.
        :param sink: the task log.
        :param holder: who deletes it (the Airflow identity labels); a deploy of the same DAG run does not block it.
        """
        prefix = prefix or self.locate(endpoint_name)
        if prefix is None:  # no state: whatever the tags still find goes
            removed = self.remove_resources(None, endpoint_name)
        else:
            with self.lease(prefix, endpoint_name, holder or {}) as lease:
                store = StateStore(self.store_for, prefix)
                state = store.read()
                revisions = [r.revision for r in ((state.live, state.pending) if state else ()) if r is not None]
                drain_capture(self.store_for, prefix, revisions, sink)
                removed = self.remove_resources(state, endpoint_name)
                store.delete()
                lease.forget()  # lock.json went with the prefix; a newcomer's lease must not be touched
        sink(f"Endpoint {endpoint_name} deleted: {removed}")
        return removed

    def describe(self, endpoint_name: str, prefix: ArtifactUri | None) -> tuple[EndpointState | None, str | None]:
        """Return the endpoint's state and, when InService, why its live revision is not healthy (None if it is).

        :param endpoint_name: the endpoint's name.
        :param prefix: its state prefix, or None to find it by the endpoint's tags.
        """
        prefix = prefix or self.locate(endpoint_name)
        state = StateStore(self.store_for, prefix).read() if prefix else None
        if state is None or state.status != IN_SERVICE or state.live is None:
            return state, None
        why, _ = self.health.unhealthy(watched(state.live, prefix), starting=False)
        return state, why
