"""DeployEndpointOperator and DeleteEndpointOperator: live endpoints serving ``/ping`` and ``/invocations``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ml_lifecycle.agent.proxy_config import DEFAULT_MAX_PAYLOAD_MB, ServingLimits, check_max_payload_mb
from ml_lifecycle.base import LifecycleOperator
from ml_lifecycle.core import checks
from ml_lifecycle.core.image_ref import parse_image_ref
from ml_lifecycle.core.specs import EndpointSpec
from ml_lifecycle.core.uris import parse_uri
from ml_lifecycle.links import EndpointLink


class DeployEndpointOperator(LifecycleOperator):
    """Serve a model behind a load balancer at a fixed URL; deploying the same name again swaps the model in place.

    Local endpoints put nginx in front of the serving containers: the URL stays the same across updates, an update
    starts the new containers, waits for every GET /ping, switches nginx gracefully and then stops the old ones,
    so no request fails. nginx enforces SageMaker's serving limits: the request body limit (max_payload_mb), 60 s
    per invocation, and only SageMaker's request headers reach the container.

    :param endpoint_name: 1-63 letters, digits and hyphens. (templated)
    :param image_uri: the serving image (run with ``serve``). (templated)
    :param model_uri: the model.tar.gz unpacked under /opt/ml/model. (templated)
    :param compute: ``local`` or ``ec2``. (templated)
    :param instance_count: serving containers; default 1.
    :param environment: extra container environment variables. (templated)
    :param startup_timeout_s: how long GET /ping may take to answer 200; default 240 (SageMaker's 4 minutes).
    :param max_payload_mb: the largest request body in MiB, 1-100; default 6 (SageMaker's real-time limit).
    :param aws_conn_id: the Airflow AWS connection used for ``s3://`` model locations.
    """

    template_fields: Sequence[str] = ("endpoint_name", "image_uri", "model_uri", "compute", "environment")
    ui_color = "#ffe4b5"
    operator_extra_links = (EndpointLink(),)

    def __init__(
        self,
        *,
        endpoint_name: str,
        image_uri: str,
        model_uri: str,
        compute: str = "local",
        instance_count: int = 1,
        environment: Mapping[str, Any] | None = None,
        startup_timeout_s: int = 240,
        max_payload_mb: int = DEFAULT_MAX_PAYLOAD_MB,
        aws_conn_id: str | None = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.endpoint_name = endpoint_name
        self.image_uri = image_uri
        self.model_uri = model_uri
        self.compute = compute
        self.instance_count = instance_count
        self.environment = environment
        self.startup_timeout_s = startup_timeout_s
        self.max_payload_mb = max_payload_mb
        self.aws_conn_id = aws_conn_id
        checks.check_now(
            {
                "endpoint_name": (endpoint_name, checks.check_endpoint_name),
                "image_uri": (image_uri, parse_image_ref),
                "model_uri": (model_uri, lambda v: parse_uri(v, "model_uri")),
                "compute": (compute, checks.check_compute),
                "instance_count": (instance_count, checks.check_instance_count),
                "environment": (environment, checks.check_environment),
                "max_payload_mb": (max_payload_mb, check_max_payload_mb),
            }
        )

    def execute(self, context: Any) -> dict[str, Any]:
        """Deploy and return the endpoint's URL once every container answers GET /ping through it."""
        from ml_lifecycle import backends
        from ml_lifecycle.runtime import identity_from_context, store_factory

        spec = EndpointSpec(
            endpoint_name=self.endpoint_name,
            image_uri=self.image_uri,
            model_uri=self.model_uri,
            instance_count=checks.check_instance_count(self.instance_count),
            environment=checks.check_environment(self.environment),
            startup_timeout_s=self.startup_timeout_s,
            compute=self.compute,
        )
        backends.require_local(spec.compute)
        endpoints = backends.local_endpoints(store_factory(self.aws_conn_id))
        limits = ServingLimits(max_payload_mb=check_max_payload_mb(self.max_payload_mb))
        record = endpoints.deploy(spec, identity_from_context(context).labels(), self.log.info, limits)
        return {
            "endpoint_name": record.endpoint_name,
            "url": record.url,
            "invocations_url": f"{record.url}/invocations",
            "revision": record.revision,
            "model_uri": record.model_uri,
            "image_digest": record.image_digest,
        }


class DeleteEndpointOperator(LifecycleOperator):
    """Stop and remove an endpoint: its proxy, containers, network and models; a missing endpoint is not an error.

    Use it as a teardown task (``DeleteEndpointOperator(...).as_teardown(setups=deploy)``) for an endpoint that lives
    only as long as a DAG run.

    :param endpoint_name: the endpoint to delete. (templated)
    """

    template_fields: Sequence[str] = ("endpoint_name",)
    ui_color = "#f5c6c6"

    def __init__(self, *, endpoint_name: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.endpoint_name = endpoint_name
        checks.check_now({"endpoint_name": (endpoint_name, checks.check_endpoint_name)})

    def execute(self, context: Any) -> dict[str, Any]:
        """Delete the endpoint and say how many containers (proxy included) were removed."""
        from ml_lifecycle import backends
        from ml_lifecycle.runtime import store_factory

        removed = backends.local_endpoints(store_factory(None)).delete(self.endpoint_name)
        self.log.info("Endpoint %s: %d container(s) removed", self.endpoint_name, removed)
        return {"endpoint_name": self.endpoint_name, "containers_removed": removed}
