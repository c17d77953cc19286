"""A blue/green update of an EC2 endpoint: shift traffic step by step, watch, and roll back on a failure."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ml_lifecycle.compute.ec2.endpoint_capture_drain import drain_capture
from ml_lifecycle.compute.ec2.endpoint_health import HealthWatch
from ml_lifecycle.compute.ec2.endpoint_revisions import RevisionLauncher, watched
from ml_lifecycle.compute.ec2.endpoint_state import IN_SERVICE, EndpointState, Revision, StateStore
from ml_lifecycle.compute.ec2.load_balancer import DEREGISTRATION_DELAY_S, LoadBalancer
from ml_lifecycle.core.checks import check_error_rate, check_positive_int
from ml_lifecycle.core.ec2.traffic_shift import TrafficShift
from ml_lifecycle.errors import EndpointNotReady

log = logging.getLogger(__name__)

DRAIN_MARGIN_S = 30.0


@dataclass(frozen=True)
class RolloutPolicy:
    """How an update reaches all requests, and what rolls it back.

    :param traffic_shift: the weight schedule.
    :param bake_s: seconds to watch the new revision after it takes every request, before the old one ends.
    :param max_error_rate: the largest share of 5XX responses of the new revision (0.01 = 1 %).
    """

    traffic_shift: TrafficShift = field(default_factory=TrafficShift)
    bake_s: int = 0
    max_error_rate: float = 0.01


def rollout_policy(options: Mapping[str, Any]) -> RolloutPolicy:
    """Build the rollout policy an operator's options ask for (traffic_shift, bake_s, max_error_rate).

    :param options: the operator's backend options.
    """
    return RolloutPolicy(
        traffic_shift=TrafficShift.build(options.get("traffic_shift")),
        bake_s=check_positive_int("bake_s", options.get("bake_s") or 0, 0),
        max_error_rate=check_error_rate(options.get("max_error_rate", 0.01)),
    )


class UpdateRolledBack(EndpointNotReady):
    """An update failed its health checks or error rate and was rolled back; the message says what the rollback achieved."""


class Rollout:
    """Moves an endpoint's traffic from its live (blue) revision to a new (green) one.

    :param balancer: the ELBv2 calls.
    :param health: the health watch.
    :param revisions: launches and removes revisions.
    :param store: the endpoint's state.
    """

    def __init__(self, balancer: LoadBalancer, health: HealthWatch, revisions: RevisionLauncher, store: StateStore):
        self.balancer = balancer
        self.health = health
        self.revisions = revisions
        self.store = store

    def shift(self, state: EndpointState, green: Revision, policy: RolloutPolicy, sink: Callable[[str], None]) -> None:
        """Shift traffic to the healthy green revision per the policy, then retire blue; roll back on any failure.

        A deferred deploy takes the same steps one at a time (take_step), its watches in the triggerer.

        :param state: the endpoint's state (live is blue, pending is green; attached to the listener at weight 0).
        :param green: the new revision, its targets healthy.
        :param policy: the rollout policy.
        :param sink: the task log.
        """
        since = dt.datetime.now(dt.UTC)
        try:
            for index in range(len(policy.traffic_shift.steps())):
                duration_s = self.take_step(state, green, policy, index, sink)
                self.health.watch(
                    watched(green, self.store.prefix),
                    state.load_balancer_arn,
                    duration_s,
                    policy.max_error_rate,
                    since,
                    sink,
                )
        except BaseException as err:
            if not isinstance(err, Exception):
                self.roll_back(state, green, err, sink)
                raise
            raise self.rolled_back(state, green, err, sink) from err
        self.finish(state, green, sink)

    def take_step(
        self, state: EndpointState, green: Revision, policy: RolloutPolicy, index: int, sink: Callable[[str], None]
    ) -> float:
        """Give green its share of step ``index``; return how long to watch it (the step's wait, or the bake).

        :param state: the endpoint's state (live is blue, pending is green).
        :param green: the new revision.
        :param policy: the rollout policy.
        :param index: the step, from 0.
        :param sink: the task log.
        """
        blue = state.live
        assert blue is not None
        if index == 0:
            for revision in (blue, green):  # neither group scales in while traffic moves between them
                self.revisions.protect(revision, True)
        step = policy.traffic_shift.steps()[index]
        self._weigh(state, blue, green, step.green_percent)
        sink(f"Endpoint {state.endpoint_name}: revision {green.revision} takes {step.green_percent} % of requests")
        return float(step.wait_s if step.green_percent < 100 else policy.bake_s)

    def rolled_back(
        self, state: EndpointState, green: Revision, err: Exception, sink: Callable[[str], None]
    ) -> UpdateRolledBack:
        """Roll green back and return the error the task fails with, saying what the rollback achieved.

        :param state: the endpoint's state.
        :param green: the failed revision.
        :param err: why.
        :param sink: the task log.
        """
        outcome = self.roll_back(state, green, err, sink)
        return UpdateRolledBack(
            f"Endpoint {state.endpoint_name}: rolled back the update to revision {green.revision}: {outcome}. Why it "
            f"failed: {err}. Fix the model or image and deploy again"
        )

    def finish(self, state: EndpointState, green: Revision, sink: Callable[[str], None]) -> None:
        """Make green the live revision and retire blue (its requests drain first).

        :param state: the endpoint's state.
        :param green: the new revision, watched through every step.
        :param sink: the task log.
        """
        blue = state.live
        assert blue is not None
        self._retire_blue(state, blue, green, sink)

    def roll_back(self, state: EndpointState, green: Revision, err: BaseException, sink: Callable[[str], None]) -> str:
        """Send every request to blue again, remove green, and record why; return what it achieved, as the listener
        says (cleanup errors are logged and told, not raised).

        :param state: the endpoint's state.
        :param green: the failed revision.
        :param err: why.
        :param sink: the task log.
        """
        blue = state.live
        assert blue is not None
        reason = f"{type(err).__name__}: {err}"[:1024]
        sink(f"Endpoint {state.endpoint_name}: rolling back revision {green.revision}: {reason}")
        failed: Exception | None = None
        try:
            self.balancer.set_weights(state.listener_arn, {blue.target_group_arn: 100})
            blue.weight, green.weight = 100, 0
            drain_capture(self.store.store_for, self.store.prefix, [green.revision], sink)  # what green was asked
            self.revisions.remove(green, state.endpoint_name)
            self.revisions.protect(blue, False)
        except Exception as cleanup:
            log.warning("Endpoint %s: the rollback failed too: %s", state.endpoint_name, cleanup)
            failed = cleanup
            state.failure_reason = (
                f"The rollback of revision {green.revision} failed ({cleanup}); delete and deploy again"
            )
        else:
            state.pending = None
            state.retire(green)
            state.failure_reason = f"The update to revision {green.revision} was rolled back: {reason}"
        state.status = IN_SERVICE
        state.note(green.revision, "rolled_back", reason)
        self.store.write(state)
        outcome = self._serving_after_rollback(state, blue)
        if failed is not None:
            outcome += f"; the rollback failed ({failed}): delete the endpoint and deploy again"
        sink(f"Endpoint {state.endpoint_name}: after the rollback, {outcome}")
        return outcome

    def _serving_after_rollback(self, state: EndpointState, blue: Revision) -> str:
        """Say who the listener sends requests to now, as it answers.

        :param state: the endpoint's state.
        :param blue: the revision that should serve every request.
        """
        try:
            weights = {arn: weight for arn, weight in self.balancer.weights(state.listener_arn).items() if weight}
        except Exception as err:
            return f"the listener could not be read to check who serves ({err})"
        if list(weights) == [blue.target_group_arn]:
            return f"revision {blue.revision} serves every request again"
        return f"the listener still forwards requests to target groups {weights}, not only revision {blue.revision}'s"

    def _weigh(self, state: EndpointState, blue: Revision, green: Revision, green_percent: int) -> None:
        """Set the listener's weights and record them.

        :param state: the endpoint's state.
        :param blue: the live revision.
        :param green: the new revision.
        :param green_percent: green's share.
        """
        self.balancer.set_weights(
            state.listener_arn, {blue.target_group_arn: 100 - green_percent, green.target_group_arn: green_percent}
        )
        blue.weight, green.weight = 100 - green_percent, green_percent
        self.store.write(state)

    def _retire_blue(self, state: EndpointState, blue: Revision, green: Revision, sink: Callable[[str], None]) -> None:
        """Make green the live revision: detach blue, let its requests drain, end its instances and target group.

        :param state: the endpoint's state.
        :param blue: the old revision.
        :param green: the new revision.
        :param sink: the task log.
        """
        self.balancer.set_weights(state.listener_arn, {green.target_group_arn: 100})
        state.live, state.pending, state.status, state.failure_reason = green, None, IN_SERVICE, ""
        state.note(green.revision, "updated")
        self.store.write(state)
        self.revisions.protect(green, False)
        self.revisions.detach(blue)
        self.health.wait_drained(blue.target_group_arn, DEREGISTRATION_DELAY_S + DRAIN_MARGIN_S)
        drain_capture(self.store.store_for, self.store.prefix, [blue.revision], sink)
        self.revisions.remove(blue, state.endpoint_name)
        state.retire(blue)
        self.store.write(state)
        sink(f"Endpoint {state.endpoint_name}: revision {blue.revision} drained and ended")
