"""What a deploy operator adds to defer its waits: hand each to EndpointDeployTrigger, resume to take the next step."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ml_lifecycle.triggers.endpoint_deploy import EndpointDeployTrigger


class DeferrableDeploy:
    """A deploy operator's deferral; the operator keeps compute, aws_conn_id and poll_interval_s as attributes, and
    gives its backend options (backend_options), Airflow's defer and a log."""

    compute: str
    aws_conn_id: str | None
    poll_interval_s: float
    log: Any
    # The operator's own (annotations only: nothing here shadows them in the method resolution order).
    backend_options: Callable[[], dict[str, Any]]
    defer: Callable[..., Any]

    def execute_complete(self, context: Any, event: Mapping[str, Any], wait: dict[str, Any]) -> dict[str, Any]:
        """Resume after a wait: take the next step (and defer again), finish, or roll back (the task fails).

        :param context: the Airflow context.
        :param event: the trigger's event (``status``, ``reason``).
        :param wait: the DeployWait the task deferred on, as data.
        """
        from ml_lifecycle.base import backend_of, identity_from_context
        from ml_lifecycle.compute.endpoint_interface import DeployWait

        endpoints = backend_of(self.compute, self.aws_conn_id, self.backend_options()).endpoints()
        owner = identity_from_context(context).labels()
        return self.defer_or_return(endpoints.resume_deploy(DeployWait(**wait), event, owner, self.log.info))

    def defer_or_return(self, result: Any) -> dict[str, Any]:
        """Return the endpoint's XCom value (an EndpointView), or hand the next wait (a DeployWait) to the triggerer.

        :param result: what the backend answered.
        """
        from ml_lifecycle.compute.endpoint_interface import DeployWait

        if not isinstance(result, DeployWait):
            return dict(result.to_xcom())
        self.log.info("Deferring: waiting for %s in the triggerer", result.what)
        trigger = EndpointDeployTrigger.waiting_for(
            result, self.compute, self.aws_conn_id, self.backend_options(), float(self.poll_interval_s)
        )
        self.defer(
            trigger=trigger, method_name="execute_complete", kwargs=trigger.resume_kwargs(), timeout=trigger.timeout()
        )
        raise AssertionError("unreachable: defer raises TaskDeferred")
