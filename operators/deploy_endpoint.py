"""DeployEndpointOperator and DeleteEndpointOperator: live endpoints serving ``/ping`` and ``/invocations``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ml_lifecycle.base import LifecycleOperator, backend_of, identity_from_context
from ml_lifecycle.compute import check_compute
from ml_lifecycle.core import checks, labels
from ml_lifecycle.core.data_capture import parse_data_capture
from ml_lifecycle.core.ec2.endpoint_options import endpoint_option_checks
from ml_lifecycle.core.endpoint_idleness import check_idle_delete_after_h
from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.image_ref import parse_image_ref
from ml_lifecycle.core.roles import check_role_arn
from ml_lifecycle.core.script_mode import DEFAULT_LOG_LEVEL, check_entry_point
from ml_lifecycle.core.uris import parse_uri
from ml_lifecycle.links import EndpointLink
from ml_lifecycle.source_code.serving_operator import SCRIPT_MODE_TEMPLATE_FIELDS, ScriptModeServing
from ml_lifecycle.triggers.endpoint_deferral import DeferrableDeploy

if TYPE_CHECKING:
    from ml_lifecycle.compute.endpoint_interface import DeployWait, EndpointBackend, EndpointView
    from ml_lifecycle.core.specs import EndpointSpec

# The endpoint proxy's default request body limit (ml_lifecycle.compute.local.endpoints.proxy_config's; a test keeps them equal),
# written here so that DAG files need not import the proxy's configuration module.
DEFAULT_MAX_PAYLOAD_MB = 6


class DeployEndpointOperator(ScriptModeServing, DeferrableDeploy, LifecycleOperator):
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
    :param aws_conn_id: the Airflow AWS connection used for ``s3://`` model locations (and EC2 with compute="ec2").
    :param instance_type: the serving instances' type (on EC2 the instances launched; everywhere the GPUs and
        /dev/shm each container gets); default ``ml.m5.large``.
    :param gpus: the GPUs each container gets: None (default) the instance type's (``ml.g5.12xlarge``: 4), a
        count, ``"all"``, or device ids (``["0", "2"]`` or ``"device=0,2"``); 0 runs a GPU type on the CPU, for
        debugging (logged as a warning). On the local engine a job asking for GPUs the engine cannot give fails
        before anything starts.
    :param shm_size: each container's /dev/shm: bytes or e.g. ``"8g"``; default half the instance type's memory.
    :param secrets: environment variable -> where its value is read when the containers start: ``conn:<conn_id>/password``
        (any connection field; ``conn:<conn_id>/extra/<key>`` for an extra), ``var:<key>``,
        ``secretsmanager:<id or ARN>[#<json key>]``, ``ssm:<parameter name>``, or a Secrets Manager or SSM ARN.
        Values reach the container's environment only, never records, XCom, logs or rendered fields; they are
        masked in the task log. With compute="ec2" the instances read Secrets Manager and SSM with their role.
        (templated: the references, not the values)
    :param role_arn: ec2: the execution role (SageMaker's RoleArn): the instances run with an instance profile of it.
        Local endpoints refuse it for now (nothing would renew its credentials once the task ends). (templated)
    :param ec2_settings: ec2: the instances' launch settings (Ec2Settings keys: subnet_id, ami_id, instance_profile...).
    :param state_uri: ec2: the ``s3://`` prefix of the endpoint's state; default
        ``s3://<model bucket>/ml-lifecycle/endpoints/<endpoint_name>``. (templated)
    :param traffic_shift: ec2: how an update moves traffic: ``{"type": "all_at_once"}`` (default),
        ``{"type": "canary", "canary_percent": 10, "wait_s": 300}`` or ``{"type": "linear", "step_percent": 20,
        "wait_s": 60}``.
    :param bake_s: ec2: seconds the new revision is watched with every request before the old one ends; default 0.
    :param max_error_rate: ec2: the largest share of 5XX responses (CloudWatch) before an update rolls back; 0.01.
    :param alb_subnet_ids: ec2: the load balancer's subnets (two zones); default the VPC's default subnets.
    :param ingress_cidrs: ec2: the IPv4 ranges that may call the load balancer, all inside its VPC; default the VPC's
        own ranges.
    :param alb_scheme: ec2: ``internal`` (default). ``internet-facing`` is refused for a new endpoint (a load balancer
        cannot check IAM signatures; use auth="iam") and kept only for an endpoint created with it.
    :param certificate_arn: ec2: an issued ACM certificate; the listener then speaks HTTPS on 443 (no HTTP listener).
    :param auth: ec2: ``none`` (default: callers in the VPC) or ``iam``: an API Gateway HTTP API with IAM authorization
        and TLS in front of the internal load balancer (through a VPC link) is the endpoint's URL, and only its VPC link
        reaches the load balancer; ``ml-lifecycle invoke`` signs requests to it.
    :param min_instances: ec2: the fewest instances the endpoint's Auto Scaling group keeps; default instance_count.
    :param max_instances: ec2: the most instances it scales out to; default instance_count (no scaling).
    :param target_invocations_per_instance: ec2: requests per instance per minute the group scales to keep (a
        target-tracking policy on ALBRequestCountPerTarget, as SageMakerVariantInvocationsPerInstance); required when
        max_instances > min_instances.
    :param poll_interval_s: ec2: seconds between health checks; default 5.
    :param deferrable: ec2: wait for the new revision's health, the traffic steps and the bake in the triggerer instead
        of a worker slot; the task resumes after each wait to take the next step, finish or roll back. A local deploy
        has no such wait and deploys at once. Default False.
    :param idle_delete_after_h: opt-in: the reaper (ReapOrphansOperator) deletes the endpoint once it has served no
        request for this many hours, as its front counts them (the local proxy's log of POST /invocations, the load
        balancer's RequestCount in CloudWatch); a deploy restarts the clock, and each deploy sets the limit anew
        (None opts out). Default None: never.
    :param entry_point: script mode: the inference program, relative to source_dir; the model is repacked with the
        code under ``code/`` and the containers get SageMaker's SAGEMAKER_* variables, as BatchTransformOperator
        describes. Without it, a registry version that keeps its code serves with that code. (templated)
    :param source_dir: script mode: the folder put under code/ whole. (templated)
    :param dependencies: script mode: more folders or files put under code/lib/. (templated)
    :param container_log_level: script mode: the toolkit's log level; default 20 (logging.INFO).
    :param use_version_code: serve a registry version that keeps its code with that code (default); False serves the
        model as it is.
    :param registry_conn_id: local: an Airflow connection (host, login, password) for pulling the image from a
        registry that needs a login; ECR images are pulled with a token asked through aws_conn_id.
    :param data_capture: SageMaker's DataCaptureConfig (EnableCapture, InitialSamplingPercentage, DestinationS3Uri,
        CaptureOptions, CaptureContentTypeHeader): the sampled requests and responses are written as SageMaker's
        capture files under ``<destination>/<endpoint>/AllTraffic/yyyy/mm/dd/hh/``, ``s3://`` or (local endpoints)
        ``file://`` (README "Data capture"); default None captures nothing.
    """

    template_fields: Sequence[str] = (
        "endpoint_name",
        "image_uri",
        "model_uri",
        "compute",
        "environment",
        "instance_type",
        "gpus",
        "shm_size",
        "secrets",
        "role_arn",
        "state_uri",
        *SCRIPT_MODE_TEMPLATE_FIELDS,
    )
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
        instance_type: str = "ml.m5.large",
        gpus: int | str | Sequence[str] | None = None,
        shm_size: int | str | None = None,
        secrets: Mapping[str, str] | None = None,
        role_arn: str | None = None,
        ec2_settings: Mapping[str, Any] | None = None,
        state_uri: str | None = None,
        traffic_shift: Mapping[str, Any] | None = None,
        bake_s: int = 0,
        max_error_rate: float = 0.01,
        alb_subnet_ids: Sequence[str] | None = None,
        ingress_cidrs: Sequence[str] | None = None,
        alb_scheme: str = "internal",
        certificate_arn: str | None = None,
        auth: str | None = None,
        min_instances: int | None = None,
        max_instances: int | None = None,
        target_invocations_per_instance: int | None = None,
        poll_interval_s: float = 5.0,
        idle_delete_after_h: float | None = None,
        deferrable: bool = False,
        entry_point: str | None = None,
        source_dir: str | None = None,
        dependencies: Sequence[str] | None = None,
        container_log_level: int = DEFAULT_LOG_LEVEL,
        use_version_code: bool = True,
        registry_conn_id: str | None = None,
        data_capture: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.data_capture = data_capture
        self.registry_conn_id = registry_conn_id
        self.init_script_mode(entry_point, source_dir, dependencies, container_log_level, use_version_code)
        self.endpoint_name = endpoint_name
        self.image_uri = image_uri
        self.model_uri = model_uri
        self.compute = compute
        self.instance_count = instance_count
        self.environment = environment
        self.startup_timeout_s = startup_timeout_s
        self.max_payload_mb = max_payload_mb
        self.aws_conn_id = aws_conn_id
        self.instance_type = instance_type
        self.gpus = gpus
        self.shm_size = shm_size
        self.secrets = secrets
        self.role_arn = role_arn
        self.ec2_settings = ec2_settings
        self.state_uri = state_uri
        self.traffic_shift = traffic_shift
        self.bake_s = bake_s
        self.max_error_rate = max_error_rate
        self.alb_subnet_ids = alb_subnet_ids
        self.ingress_cidrs = ingress_cidrs
        self.alb_scheme = alb_scheme
        self.certificate_arn = certificate_arn
        self.auth = auth
        self.min_instances = min_instances
        self.max_instances = max_instances
        self.target_invocations_per_instance = target_invocations_per_instance
        self.poll_interval_s = poll_interval_s
        self.idle_delete_after_h = idle_delete_after_h
        self.deferrable = deferrable
        checks.check_all(
            lambda: checks.check_now(endpoint_option_checks(self.backend_options())),
            lambda: checks.check_now(
                {
                    "endpoint_name": (endpoint_name, checks.check_endpoint_name),
                    "image_uri": (image_uri, parse_image_ref),
                    "model_uri": (model_uri, lambda v: parse_uri(v, "model_uri")),
                    "compute": (compute, check_compute),
                    "instance_count": (instance_count, checks.check_instance_count),
                    "environment": (environment, checks.check_environment),
                    "max_payload_mb": (max_payload_mb, _check_max_payload_mb),
                    **checks.sizing_checks(gpus, shm_size),
                    "secrets": (secrets, checks.check_secrets),
                    "role_arn": (role_arn, check_role_arn),
                    "entry_point": (entry_point, check_entry_point),
                    "idle_delete_after_h": (idle_delete_after_h, check_idle_delete_after_h),
                    "data_capture": (data_capture, parse_data_capture),
                }
            ),
        )

    @classmethod
    def from_sagemaker(cls, config: Mapping[str, Any], **kwargs: Any) -> DeployEndpointOperator:
        """Build the operator from the Amazon provider's SageMakerEndpointOperator config: ``{"Model": ...,
        "EndpointConfig": ..., "Endpoint": ...}`` (the SDK's ``deploy_config`` makes one). One production variant
        runs; a blue/green DeploymentConfig becomes traffic_shift. A field that cannot be honoured here fails with
        its name; the README's table says what each field does.

        :param config: the config, as botocore's input shapes in JSON.
        :param kwargs: more parameters (task_id, compute, ...); they win over the config's, and ``ec2_settings``
            keys are merged over those the config sets.
        """
        from ml_lifecycle.core.sagemaker_api.endpoint import endpoint_kwargs
        from ml_lifecycle.core.sagemaker_api.fields import with_overrides

        return cls(**with_overrides(endpoint_kwargs(config), kwargs))

    def backend_options(self) -> dict[str, Any]:
        """Return what the backend reads beyond the spec: the serving limits, EC2's network, rollout and state."""
        return {
            "max_payload_mb": self.max_payload_mb,
            "instance_type": self.instance_type,
            "ec2_settings": self.ec2_settings,
            "state_uri": self.state_uri,
            "traffic_shift": self.traffic_shift,
            "bake_s": self.bake_s,
            "max_error_rate": self.max_error_rate,
            "alb_subnet_ids": self.alb_subnet_ids,
            "ingress_cidrs": self.ingress_cidrs,
            "alb_scheme": self.alb_scheme,
            "certificate_arn": self.certificate_arn,
            "auth": self.auth,
            "instance_count": self.instance_count,
            "min_instances": self.min_instances,
            "max_instances": self.max_instances,
            "target_invocations_per_instance": self.target_invocations_per_instance,
            "poll_interval_s": self.poll_interval_s,
            "registry_conn_id": self.registry_conn_id,
        }

    def execute(self, context: Any) -> dict[str, Any]:
        """Deploy and return the endpoint's URL once every container answers GET /ping through it (or defer)."""
        owner = identity_from_context(context).labels()
        if not self.deferrable:
            return self.deploy(owner, self.log.info).to_xcom()
        return self.defer_or_return(self.begin_deploy(owner, self.log.info))

    def deploy(self, owner: Mapping[str, str], sink: Callable[[str], None]) -> EndpointView:
        """Deploy the endpoint (or update it) and return it once every container answers GET /ping through it.

        :param owner: the labels of who deploys it (the Airflow task instance, or the SageMaker API's caller).
        :param sink: where progress is told (the task log).
        """
        endpoints, spec, owned = self._prepare(owner, sink)
        return endpoints.deploy(spec, owned, sink)

    def begin_deploy(self, owner: Mapping[str, str], sink: Callable[[str], None]) -> EndpointView | DeployWait:
        """Deploy the endpoint up to its first long wait, which the triggerer takes (``deferrable``).

        :param owner: the labels of who deploys it.
        :param sink: where progress is told (the task log).
        """
        endpoints, spec, owned = self._prepare(owner, sink)
        return endpoints.begin_deploy(spec, owned, sink)

    def _prepare(
        self, owner: Mapping[str, str], sink: Callable[[str], None]
    ) -> tuple[EndpointBackend, EndpointSpec, dict[str, str]]:
        """Build the spec, check the rendered options, stage the serving code; return the endpoints and the labels.

        :param owner: the labels of who deploys it.
        :param sink: where progress is told (the task log).
        """
        from ml_lifecycle.core.container_resources import size_in_bytes
        from ml_lifecycle.core.gpus import canonical_gpus
        from ml_lifecycle.core.specs import EndpointSpec

        backend = backend_of(self.compute, self.aws_conn_id, self.backend_options())
        serving = self.serving_plan(backend.region)
        spec = EndpointSpec(
            endpoint_name=self.endpoint_name,
            image_uri=self.image_uri,
            model_uri=serving.model_uri,
            instance_count=checks.check_instance_count(self.instance_count),
            environment=serving.environment,
            startup_timeout_s=self.startup_timeout_s,
            instance_type=self.instance_type,
            gpus=canonical_gpus(self.gpus),
            shm_size_bytes=size_in_bytes(self.shm_size) if self.shm_size not in (None, "") else None,
            secrets=checks.check_secrets(self.secrets),
            role_arn=check_role_arn(self.role_arn),
            data_capture=parse_data_capture(self.data_capture),
        )
        checks.check_now(endpoint_option_checks(self.backend_options()))  # templated ones, now rendered
        endpoints = backend.endpoints()
        if spec.data_capture is not None and not endpoints.records_data_capture:
            raise SpecError(
                "data_capture",
                f"is not recorded by compute={self.compute!r} endpoints yet",
                "Deploy with compute='local', or leave data_capture out",
            )
        self.stage_serving_code(serving, sink)
        idle_limit_h = check_idle_delete_after_h(self.idle_delete_after_h)
        owned = {**owner, **labels.endpoint_labels(self.instance_type, idle_limit_h)}
        return endpoints, spec, owned


def _check_max_payload_mb(value: Any) -> int:
    """Accept a request body limit of 1-100 MiB; the default needs no check, so the proxy's module loads only for others.

    :param value: the max_payload_mb parameter.
    """
    if type(value) is int and value == DEFAULT_MAX_PAYLOAD_MB:
        return value
    from ml_lifecycle.compute.local.endpoints.proxy_config import check_max_payload_mb

    return check_max_payload_mb(value)


class DeleteEndpointOperator(LifecycleOperator):
    """Stop and remove an endpoint: its proxy, containers, network and models; a missing endpoint is not an error.

    Use it as a teardown task (``DeleteEndpointOperator(...).as_teardown(setups=deploy)``) for an endpoint that lives
    only as long as a DAG run.

    With ``compute="ec2"`` it deletes the listener, load balancer, instances, target groups and security groups (found
    by the endpoint's tags) and the endpoint's state.

    :param endpoint_name: the endpoint to delete. (templated)
    :param compute: ``local`` or ``ec2``. (templated)
    :param state_uri: ec2: the endpoint's state prefix; default found from the tags of its security groups. (templated)
    :param aws_conn_id: ec2: the Airflow AWS connection.
    """

    template_fields: Sequence[str] = ("endpoint_name", "compute", "state_uri")
    ui_color = "#f5c6c6"

    def __init__(
        self,
        *,
        endpoint_name: str,
        compute: str = "local",
        state_uri: str | None = None,
        aws_conn_id: str | None = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.endpoint_name = endpoint_name
        self.compute = compute
        self.state_uri = state_uri
        self.aws_conn_id = aws_conn_id
        checks.check_now(
            {
                "endpoint_name": (endpoint_name, checks.check_endpoint_name),
                "compute": (compute, check_compute),
                "state_uri": (state_uri, lambda v: parse_uri(v, "state_uri")),
            }
        )

    def execute(self, context: Any) -> dict[str, Any]:
        """Delete the endpoint and say what was removed (containers for local, AWS resources for ec2)."""
        options = {"state_uri": self.state_uri}
        endpoints = backend_of(self.compute, self.aws_conn_id, options).endpoints()
        removed = endpoints.delete(self.endpoint_name, identity_from_context(context).labels(), self.log.info)
        return {"endpoint_name": self.endpoint_name, **removed}
