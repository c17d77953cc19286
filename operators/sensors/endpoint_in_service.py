"""EndpointInServiceSensor: wait until an endpoint is InService and answers GET /ping at its URL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from ml_lifecycle.compute import check_compute
from ml_lifecycle.core import checks


class EndpointInServiceSensor(BaseSensorOperator):
    """Succeed when the endpoint is InService and its backend finds it answering; fail when it is Failed.

    Creating, Updating and a missing endpoint (a deploy that has not started yet) keep the sensor waiting. An update
    that failed leaves the previous model InService, so the sensor succeeds and logs the update's failure reason.
    What "answering" means is the backend's: locally GET /ping through the endpoint's URL; on EC2 every target of
    the live revision healthy in the load balancer (which pings /ping; the worker may not reach an internal one).

    :param endpoint_name: the endpoint's name. (templated)
    :param ping_timeout_s: how long GET /ping may take; default 2 (SageMaker's health check timeout).
    :param compute: ``local`` or ``ec2``. (templated)
    :param state_uri: ec2: the endpoint's state prefix; default found from the endpoint's tags. (templated)
    :param aws_conn_id: ec2: the Airflow AWS connection.
    """

    template_fields: Sequence[str] = ("endpoint_name", "compute", "state_uri")
    ui_color = "#ffe4b5"

    def __init__(
        self,
        *,
        endpoint_name: str,
        ping_timeout_s: float = 2.0,
        compute: str = "local",
        state_uri: str | None = None,
        aws_conn_id: str | None = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.endpoint_name = endpoint_name
        self.ping_timeout_s = ping_timeout_s
        self.compute = compute
        self.state_uri = state_uri
        self.aws_conn_id = aws_conn_id
        checks.check_now(
            {"endpoint_name": (endpoint_name, checks.check_endpoint_name), "compute": (compute, check_compute)}
        )

    def poke(self, context: Any) -> PokeReturnValue | bool:
        """Ask the endpoint's backend how it is now, once.

        :param context: the Airflow context.
        """
        from ml_lifecycle.base import backend_of
        from ml_lifecycle.core.status import EndpointStatus
        from ml_lifecycle.errors import EndpointNotReady

        options = {"state_uri": self.state_uri, "ping_timeout_s": self.ping_timeout_s}
        view = backend_of(self.compute, self.aws_conn_id, options).endpoints().describe(self.endpoint_name)
        if view is None:
            self.log.info("Endpoint %s: no such endpoint yet", self.endpoint_name)
            return False
        if view.status == EndpointStatus.FAILED:
            raise EndpointNotReady(
                f"Endpoint {self.endpoint_name} is Failed: {view.failure_reason or 'no reason was recorded'}. "
                "Fix the cause and deploy it again"
            )
        if view.status != EndpointStatus.IN_SERVICE:
            self.log.info("Endpoint %s is %s", self.endpoint_name, view.status)
            return False
        if view.serving_problem:
            self.log.info("Endpoint %s is InService but %s", self.endpoint_name, view.serving_problem)
            return False
        if view.failure_reason:
            self.log.warning(
                "Endpoint %s serves revision %s; %s", self.endpoint_name, view.revision, view.failure_reason
            )
        return PokeReturnValue(is_done=True, xcom_value=view.to_xcom())
