"""EndpointInServiceSensor: wait until an endpoint is InService and answers GET /ping at its URL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from ml_lifecycle.core import checks


class EndpointInServiceSensor(BaseSensorOperator):
    """Succeed when the endpoint's record says InService and its URL answers GET /ping; fail when it says Failed.

    Creating, Updating and a missing record (a deploy that has not started yet) keep the sensor waiting. An update
    that failed leaves the previous model InService, so the sensor succeeds and logs the update's failure reason.

    :param endpoint_name: the endpoint's name. (templated)
    With ``compute="ec2"`` the state in S3 must say InService and every target of the live revision must be healthy
    in the load balancer (the load balancer pings /ping; the Airflow worker may not reach an internal one).

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
            {"endpoint_name": (endpoint_name, checks.check_endpoint_name), "compute": (compute, checks.check_compute)}
        )

    def poke(self, context: Any) -> PokeReturnValue | bool:
        """Read the endpoint's record once and, when it says InService, ping its URL.

        :param context: the Airflow context.
        """
        from urllib.parse import urlsplit

        from ml_lifecycle import settings
        from ml_lifecycle.agent.endpoint_record import FAILED, IN_SERVICE, read_endpoint
        from ml_lifecycle.agent.http_client import ContainerClient
        from ml_lifecycle.errors import EndpointNotReady

        if checks.check_compute(self.compute) == "ec2":
            return self._poke_ec2()
        record = read_endpoint(settings.home_dir(), self.endpoint_name)
        if record is None:
            self.log.info("Endpoint %s: no record yet under %s", self.endpoint_name, settings.home_dir())
            return False
        if record.status == FAILED:
            raise EndpointNotReady(
                f"Endpoint {self.endpoint_name} is Failed: {record.failure_reason or 'no reason was recorded'}. "
                "Fix the cause and deploy it again"
            )
        if record.status != IN_SERVICE:
            self.log.info("Endpoint %s is %s", self.endpoint_name, record.status)
            return False
        address = urlsplit(record.url)
        client = ContainerClient(address.hostname or "", address.port or 80, self.ping_timeout_s)
        if not client.ping(self.ping_timeout_s):
            self.log.info(
                "Endpoint %s is InService but GET %s/ping does not answer 200 yet", self.endpoint_name, record.url
            )
            return False
        if record.failure_reason:
            self.log.warning(
                "Endpoint %s serves revision %s; %s", self.endpoint_name, record.revision, record.failure_reason
            )
        return PokeReturnValue(
            is_done=True,
            xcom_value={
                "endpoint_name": record.endpoint_name,
                "url": record.url,
                "invocations_url": f"{record.url}/invocations",
                "revision": record.revision,
                "model_uri": record.model_uri,
            },
        )

    def _poke_ec2(self) -> PokeReturnValue | bool:
        """Read an EC2 endpoint's state and its live revision's target health once."""
        from ml_lifecycle import ec2_endpoint_options
        from ml_lifecycle.compute.ec2.endpoint_state import FAILED, IN_SERVICE
        from ml_lifecycle.errors import EndpointNotReady

        state, unhealthy = ec2_endpoint_options.describe(self)
        if state is None:
            self.log.info("Endpoint %s: no EC2 endpoint state yet", self.endpoint_name)
            return False
        if state.status == FAILED:
            raise EndpointNotReady(
                f"Endpoint {self.endpoint_name} is Failed: {state.failure_reason or 'no reason was recorded'}. "
                "Fix the cause and deploy it again"
            )
        if state.status != IN_SERVICE or state.live is None:
            self.log.info("Endpoint %s is %s", self.endpoint_name, state.status)
            return False
        if unhealthy:
            self.log.info("Endpoint %s is InService but %s", self.endpoint_name, unhealthy)
            return False
        if state.failure_reason:
            self.log.warning(
                "Endpoint %s serves revision %s; %s", self.endpoint_name, state.live.revision, state.failure_reason
            )
        return PokeReturnValue(
            is_done=True,
            xcom_value={
                "endpoint_name": state.endpoint_name,
                "url": state.url,
                "invocations_url": f"{state.url}/invocations",
                "revision": state.live.revision,
                "model_uri": state.live.model_uri,
            },
        )
