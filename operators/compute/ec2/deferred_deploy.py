"""A deploy of an EC2 endpoint whose waits (health, traffic steps, bake) happen in the triggerer, one step at a time.

It takes the same steps as the synchronous deploy (Ec2Endpoints.launch, Rollout.take_step, Rollout.finish), with the
waits between them handed to a trigger. The endpoint's lease is held across the deferrals: a lease of the same DAG
run is taken over by the resumed task, and any other deploy or delete is refused until the rollout ends.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from ml_lifecycle.compute.ec2.endpoint_health import RevisionUnhealthy
from ml_lifecycle.compute.ec2.endpoint_revisions import watched
from ml_lifecycle.compute.ec2.endpoint_rollout import RolloutPolicy
from ml_lifecycle.compute.ec2.endpoint_state import EndpointState, Revision, StateStore
from ml_lifecycle.compute.ec2.endpoints import Ec2Endpoints, boot_timeout_s
from ml_lifecycle.core.ec2.rollout_wait import HEALTHY, WATCH, RolloutWait
from ml_lifecycle.core.specs import EndpointSpec
from ml_lifecycle.core.uris import ArtifactUri, parse_uri
from ml_lifecycle.errors import EndpointNotReady

OK, FAILED, WAITING = "ok", "failed", "waiting"


class DeferredDeploy:
    """Begins, checks and resumes a deploy whose waits are deferred.

    :param endpoints: the EC2 endpoint manager (it launches, rolls out and rolls back).
    :param policy: how an update shifts traffic and what rolls it back.
    """

    def __init__(self, endpoints: Ec2Endpoints, policy: RolloutPolicy) -> None:
        self.endpoints = endpoints
        self.policy = policy

    def begin(
        self,
        spec: EndpointSpec,
        instance_type: str,
        owner: dict[str, str],
        prefix: ArtifactUri,
        sink: Callable[[str], None],
    ) -> RolloutWait:
        """Take the lease, launch the new revision and return its boot wait (the lease stays taken).

        :param spec: the endpoint spec.
        :param instance_type: the instances' type.
        :param owner: the Airflow identity labels.
        :param prefix: the endpoint's state prefix.
        :param sink: the task log.
        """
        self.endpoints.check_deployable(spec, instance_type, prefix)
        lease = self.endpoints.lease(prefix, spec.endpoint_name, owner)
        lease.acquire()
        try:
            _, _, green = self.endpoints.launch(spec, instance_type, owner, prefix, sink)
        except BaseException:
            lease.release()
            raise
        now = time.time()
        return RolloutWait(
            spec.endpoint_name, str(prefix), green.revision, HEALTHY, -1, now + boot_timeout_s(spec), now
        )

    def check(self, wait: RolloutWait) -> tuple[str, str]:
        """Check the wait once: (``ok``, ``failed`` or ``waiting``; why, or how it goes).

        :param wait: the wait.
        """
        store = StateStore(self.endpoints.store_for, parse_uri(wait.state_uri, "state_uri"))
        state, green = _pending(store, wait)
        if green is None:
            return (
                FAILED,
                f"revision {wait.revision} is no longer being rolled out (another deploy or a delete ended it)",
            )
        targets = watched(green, store.prefix)
        if wait.phase == HEALTHY:
            why, hopeless = self.endpoints.health.unhealthy(targets, starting=True)
            if why is None:
                return OK, f"revision {wait.revision} is healthy"
            if hopeless or time.time() > wait.until_epoch_s:
                return FAILED, f"{why} (gave up after {_boot_given(wait)})"
            return WAITING, why
        since = dt.datetime.fromtimestamp(wait.since_epoch_s, dt.UTC)
        why, progress = self.endpoints.health.serving_problem(
            targets, state.load_balancer_arn, self.policy.max_error_rate, since
        )
        if why:
            return FAILED, why
        return (OK if time.time() >= wait.until_epoch_s else WAITING), progress

    def resume(
        self, wait: RolloutWait, status: str, reason: str, owner: dict[str, str], sink: Callable[[str], None]
    ) -> EndpointState | RolloutWait:
        """Take the next step after a wait: watch the next traffic step, finish, or roll back (raised).

        :param wait: what was awaited.
        :param status: the trigger's answer (``ok`` or ``failed``).
        :param reason: why, or how it went.
        :param owner: the Airflow identity labels (the same DAG run takes its lease over).
        :param sink: the task log.
        """
        prefix = parse_uri(wait.state_uri, "state_uri")
        lease = self.endpoints.lease(prefix, wait.endpoint_name, owner)
        lease.acquire()
        next_wait: RolloutWait | None = None
        try:
            store = StateStore(self.endpoints.store_for, prefix)
            state, green = _pending(store, wait)
            if green is None:
                raise EndpointNotReady(
                    f"Endpoint {wait.endpoint_name}: revision {wait.revision} is no longer being rolled out (another "
                    "deploy or a delete ended it while this task was deferred); deploy again"
                )
            next_wait = self._next(store, state, green, wait, status, reason, sink)
            return next_wait or state
        finally:
            if next_wait is None:
                lease.release()

    def _next(
        self,
        store: StateStore,
        state: EndpointState,
        green: Revision,
        wait: RolloutWait,
        status: str,
        reason: str,
        sink: Callable[[str], None],
    ) -> RolloutWait | None:
        """Return the next wait, or None once the endpoint serves the new revision; roll back a failure (raised).

        :param store: the endpoint's state store.
        :param state: the endpoint's state.
        :param green: the revision being rolled out.
        :param wait: what was awaited.
        :param status: the trigger's answer.
        :param reason: why, or how it went.
        :param sink: the task log.
        """
        rollout = self.endpoints.rollout(store)
        if status != OK and wait.phase == HEALTHY:
            err = RevisionUnhealthy(reason)
            self.endpoints.abandon(store, state, green, err, sink)
            raise err
        if status != OK:
            raise rollout.rolled_back(state, green, RevisionUnhealthy(reason), sink)
        sink(f"Endpoint {wait.endpoint_name}: {reason}")
        if wait.phase == HEALTHY and state.live is None:
            self.endpoints.created(store, state, green, sink)
            return None
        index = wait.step + 1
        if index >= len(self.policy.traffic_shift.steps()):
            rollout.finish(state, green, sink)
            sink(f"Endpoint {wait.endpoint_name} InService at {state.url}: revision {green.revision}")
            return None
        now = time.time()
        try:
            duration_s = rollout.take_step(state, green, self.policy, index, sink)
        except Exception as err:
            raise rollout.rolled_back(state, green, err, sink) from err
        since = now if wait.phase == HEALTHY else wait.since_epoch_s
        return RolloutWait(wait.endpoint_name, wait.state_uri, wait.revision, WATCH, index, now + duration_s, since)


def _pending(store: StateStore, wait: RolloutWait) -> tuple[EndpointState, Revision | None]:
    """Return the endpoint's state and the revision the wait is about, when it is still the one being rolled out.

    :param store: the endpoint's state store.
    :param wait: the wait.
    """
    state = store.read()
    if state is None:
        raise EndpointNotReady(f"Endpoint {wait.endpoint_name} has no state under {wait.state_uri} any more")
    pending = state.pending
    return state, pending if pending is not None and pending.revision == wait.revision else None


def _boot_given(wait: RolloutWait) -> str:
    """Say how long the boot was given.

    :param wait: the boot's wait.
    """
    return f"{wait.until_epoch_s - wait.since_epoch_s:.0f} s"
