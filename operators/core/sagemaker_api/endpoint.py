"""CreateEndpointConfig and CreateEndpoint, field by field, with the CreateModel they serve: the Amazon provider's
SageMakerEndpointOperator ``config`` (``{"Model": ..., "EndpointConfig": ..., "Endpoint": ...}``, often made by the
SDK's ``deploy_config``), in DeployEndpointOperator's terms. One production variant runs; a blue/green deployment
config becomes the traffic shift of an update."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.sagemaker_api.endpoint_tags import ACCESS_TAGS, merged_access, tags_rule
from ml_lifecycle.core.sagemaker_api.fields import (
    FieldRule,
    apply_rules,
    into,
    maps_to,
    no_effect,
    refused,
    volume_rule,
)
from ml_lifecycle.core.sagemaker_api.model import model_kwargs

VARIANT = "ProductionVariants[]"
SHIFT = "DeploymentConfig.BlueGreenUpdatePolicy"
ROUTING = f"{SHIFT}.TrafficRoutingConfiguration"
ONE_VARIANT = "one production variant runs per endpoint here"
NOT_YET = "SageMaker's managed instance scaling and tracing are not built here (EC2 endpoints scale with min_instances, max_instances and target_invocations_per_instance)"

ENDPOINT_CONFIG_RULES: tuple[FieldRule, ...] = (
    no_effect("EndpointConfigName", "accepted; the config's own variant is the one served"),
    no_effect(f"{VARIANT}.VariantName"),
    no_effect(f"{VARIANT}.ModelName", "accepted; the config's Model is the one served"),
    maps_to(f"{VARIANT}.InitialInstanceCount", "instance_count"),
    maps_to(f"{VARIANT}.InstanceType", "instance_type"),
    no_effect(f"{VARIANT}.InitialVariantWeight", "accepted; the one variant takes every request"),
    volume_rule(f"{VARIANT}.VolumeSizeInGB"),
    no_effect(
        f"{VARIANT}.ModelDataDownloadTimeoutInSeconds", "accepted; the model is fetched before the container starts"
    ),
    maps_to(f"{VARIANT}.ContainerStartupHealthCheckTimeoutInSeconds", "startup_timeout_s"),
    no_effect(f"{VARIANT}.EnableSSMAccess"),
    no_effect(f"{VARIANT}.RoutingConfig", "accepted; the load balancer routes"),
    no_effect(f"{VARIANT}.CoreDumpConfig"),
    refused(f"{VARIANT}.AcceleratorType", "Elastic Inference accelerators do not exist outside SageMaker"),
    refused(f"{VARIANT}.ServerlessConfig", "serverless endpoints run only on SageMaker: give an instance type"),
    refused(f"{VARIANT}.ManagedInstanceScaling", NOT_YET),
    refused(f"{VARIANT}.InferenceAmiVersion", "the AMI comes from ec2_settings['ami_id']"),
    refused(f"{VARIANT}.InstancePools", "give one InstanceType"),
    refused(f"{VARIANT}.VariantInstanceProvisionTimeoutInSeconds", "give one InstanceType"),
    refused(f"{VARIANT}.CapacityReservationConfig", "SageMaker capacity reservations are SageMaker's"),
    refused(f"{VARIANT}.AcceleratorPartitionLayouts", "give whole GPUs with the operator's gpus"),
    maps_to("DataCaptureConfig", "data_capture", dict),
    tags_rule("Tags"),
    into("KmsKeyId", "ec2_settings", "kms_key_id", "`ec2_settings['kms_key_id']` (the instances' volumes)"),
    refused("AsyncInferenceConfig", "asynchronous endpoints do not run here"),
    refused("ExplainerConfig", "SageMaker Clarify's explainer does not run here"),
    refused("ShadowProductionVariants", ONE_VARIANT),
    maps_to("ExecutionRoleArn", "role_arn"),
    refused("VpcConfig", "give the operator's ec2_settings and alb_subnet_ids"),
    refused("EnableNetworkIsolation", "serving containers here are not network-isolated", (False,)),
    no_effect("MetricsConfig"),
    refused("TracingConfig", NOT_YET),
    refused("CrossRegionTrafficConfig", "an endpoint serves in one region here"),
)


def _shift(path: str, key: str, effect: str) -> FieldRule:
    """Return the rule of a blue/green routing field, gathered into traffic_shift once all are read.

    :param path: the field's path.
    :param key: where it is kept until then.
    :param effect: the README's words.
    """
    return FieldRule(path, effect, maps_to(path, key).apply)


ENDPOINT_RULES: tuple[FieldRule, ...] = (
    maps_to("EndpointName", "endpoint_name"),
    no_effect("EndpointConfigName", "accepted; the config's EndpointConfig is the one served"),
    _shift(f"{ROUTING}.Type", "_shift_type", "`traffic_shift` type: ALL_AT_ONCE, CANARY or LINEAR"),
    _shift(f"{ROUTING}.WaitIntervalInSeconds", "_shift_wait_s", "`traffic_shift['wait_s']`"),
    refused(f"{ROUTING}.CanarySize.Type", "give the canary's size in percent of capacity", ("CAPACITY_PERCENT",)),
    _shift(f"{ROUTING}.CanarySize.Value", "_shift_canary", "`traffic_shift['canary_percent']`"),
    refused(f"{ROUTING}.LinearStepSize.Type", "give the step's size in percent of capacity", ("CAPACITY_PERCENT",)),
    _shift(f"{ROUTING}.LinearStepSize.Value", "_shift_step", "`traffic_shift['step_percent']`"),
    maps_to(f"{SHIFT}.TerminationWaitInSeconds", "bake_s"),
    no_effect(f"{SHIFT}.MaximumExecutionTimeoutInSeconds", "accepted; each step is bounded by its wait"),
    refused("DeploymentConfig.RollingUpdatePolicy", "give a BlueGreenUpdatePolicy (canary, linear, all at once)"),
    refused(
        "DeploymentConfig.AutoRollbackConfiguration",
        "an update rolls back on its own 5XX rate (the operator's max_error_rate), not on CloudWatch alarms",
    ),
    tags_rule("Tags"),
)
ACCESS_PARAMETERS = tuple(parameter for parameter, _, _ in ACCESS_TAGS.values())


def endpoint_kwargs(config: Mapping[str, Any]) -> dict[str, Any]:
    """Return DeployEndpointOperator's keyword arguments for the provider's endpoint config.

    :param config: ``{"Model": ..., "EndpointConfig": ..., "Endpoint": ...}`` as botocore's input shapes in JSON.
    """
    parts = ("Model", "EndpointConfig", "Endpoint")
    if not isinstance(config, Mapping) or any(part not in config for part in parts):
        raise SpecError(
            "config",
            "lacks one of Model, EndpointConfig and Endpoint",
            "Give all three: models and endpoint configs created elsewhere by name are not looked up here",
        )
    unknown = sorted(set(config) - set(parts))
    if unknown:
        raise SpecError(
            f"config.{unknown[0]}", "is not part of an endpoint config", "Give Model, EndpointConfig, Endpoint"
        )
    variants = config["EndpointConfig"].get("ProductionVariants")
    if not isinstance(variants, list) or len(variants) != 1:
        raise SpecError("EndpointConfig.ProductionVariants", "holds other than one variant", f"Give one: {ONE_VARIANT}")
    model = model_kwargs(config["Model"])
    variant = apply_rules(config["EndpointConfig"], ENDPOINT_CONFIG_RULES, "CreateEndpointConfig")
    endpoint = apply_rules(config["Endpoint"], ENDPOINT_RULES, "CreateEndpoint")
    shift = _traffic_shift(endpoint)
    ec2_settings = {**model.pop("ec2_settings", {}), **variant.pop("ec2_settings", {})}
    access = merged_access(_pop_access(variant), _pop_access(endpoint))
    kwargs = {**model, **variant, **endpoint, **access}
    if shift is not None:
        kwargs["traffic_shift"] = shift
    if ec2_settings:
        kwargs["ec2_settings"] = ec2_settings
    return kwargs


def _pop_access(translated: dict[str, Any]) -> dict[str, Any]:
    """Take the access parameters (set by ``ml-lifecycle:`` tags) out of a request's translation and return them.

    :param translated: an EndpointConfig's or Endpoint's translation.
    """
    return {p: translated.pop(p) for p in ACCESS_PARAMETERS if p in translated}


def _traffic_shift(endpoint: dict[str, Any]) -> dict[str, Any] | None:
    """Take the blue/green routing fields out of the endpoint's arguments and return the operator's traffic_shift.

    :param endpoint: the CreateEndpoint translation (its ``_shift_*`` keys are removed).
    """
    kind = endpoint.pop("_shift_type", None)
    wait_s = endpoint.pop("_shift_wait_s", 0)
    canary, step = endpoint.pop("_shift_canary", None), endpoint.pop("_shift_step", None)
    if kind is None:
        return None
    if kind == "ALL_AT_ONCE":
        return {"type": "all_at_once"}
    if kind == "CANARY" and canary is not None:
        return {"type": "canary", "canary_percent": canary, "wait_s": wait_s}
    if kind == "LINEAR" and step is not None:
        return {"type": "linear", "step_percent": step, "wait_s": wait_s}
    raise SpecError(
        f"Endpoint.{ROUTING}",
        f"is {kind!r} without its size",
        "Give ALL_AT_ONCE, CANARY with CanarySize, or LINEAR with LinearStepSize (in CAPACITY_PERCENT)",
    )
