"""CreateEndpointConfig and CreateEndpoint field by field: the provider's endpoint config in DeployEndpointOperator's
terms, blue/green deployment configs as traffic shifts, and every field of botocore's input shapes with a rule."""

from __future__ import annotations

import copy
from typing import Any

import botocore.session
import pytest

from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.sagemaker_api.endpoint import ENDPOINT_CONFIG_RULES, ENDPOINT_RULES, endpoint_kwargs
from ml_lifecycle.core.sagemaker_api.fields import rules_table

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/serve:1"
CONFIG: dict[str, Any] = {
    "Model": {"ModelName": "m", "PrimaryContainer": {"Image": IMAGE, "ModelDataUrl": "s3://b/model.tar.gz"}},
    "EndpointConfig": {
        "EndpointConfigName": "m-config",
        "ProductionVariants": [
            {
                "VariantName": "AllTraffic",
                "ModelName": "m",
                "InitialInstanceCount": 2,
                "InstanceType": "ml.g5.xlarge",
                "InitialVariantWeight": 1.0,
                "ContainerStartupHealthCheckTimeoutInSeconds": 600,
            }
        ],
    },
    "Endpoint": {"EndpointName": "churn", "EndpointConfigName": "m-config"},
}
KWARGS = {
    "image_uri": IMAGE,
    "model_uri": "s3://b/model.tar.gz",
    "instance_count": 2,
    "instance_type": "ml.g5.xlarge",
    "startup_timeout_s": 600,
    "endpoint_name": "churn",
}


def _routing(routing: dict[str, Any], termination_wait_s: int | None = None) -> dict[str, Any]:
    """Return CONFIG with a blue/green deployment config.

    :param routing: the TrafficRoutingConfiguration.
    :param termination_wait_s: TerminationWaitInSeconds, or None.
    """
    config = copy.deepcopy(CONFIG)
    policy: dict[str, Any] = {"TrafficRoutingConfiguration": routing}
    if termination_wait_s is not None:
        policy["TerminationWaitInSeconds"] = termination_wait_s
    config["Endpoint"]["DeploymentConfig"] = {"BlueGreenUpdatePolicy": policy}
    return config


def test_the_providers_endpoint_config_becomes_the_operators_parameters():
    assert endpoint_kwargs(CONFIG) == KWARGS


@pytest.mark.parametrize(
    ("routing", "expected"),
    [
        ({"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0}, {"type": "all_at_once"}),
        (
            {"Type": "CANARY", "WaitIntervalInSeconds": 300, "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10}},
            {"type": "canary", "canary_percent": 10, "wait_s": 300},
        ),
        (
            {"Type": "LINEAR", "WaitIntervalInSeconds": 60, "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 20}},
            {"type": "linear", "step_percent": 20, "wait_s": 60},
        ),
    ],
)  # fmt: skip
def test_a_blue_green_deployment_config_becomes_the_traffic_shift_of_an_update(routing, expected):
    assert endpoint_kwargs(_routing(routing, 120)) == {**KWARGS, "traffic_shift": expected, "bake_s": 120}


def test_data_capture_config_is_the_operators_data_capture():
    capture = {"EnableCapture": True, "InitialSamplingPercentage": 50, "DestinationS3Uri": "s3://b/capture",
               "CaptureOptions": [{"CaptureMode": "Input"}]}  # fmt: skip
    config = {**CONFIG, "EndpointConfig": {**CONFIG["EndpointConfig"], "DataCaptureConfig": capture}}
    assert endpoint_kwargs(config)["data_capture"] == capture


@pytest.mark.parametrize(
    ("config", "field", "advice"),
    [
        (_routing({"Type": "CANARY", "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1}}), "CanarySize.Type", "percent"),
        (_routing({"Type": "CANARY"}), "TrafficRoutingConfiguration", "CanarySize"),
        ({**CONFIG, "EndpointConfig": {**CONFIG["EndpointConfig"], "TracingConfig": {}}}, "TracingConfig", "not built"),
        (
            {**CONFIG, "EndpointConfig": {"ProductionVariants": CONFIG["EndpointConfig"]["ProductionVariants"] * 2}},
            "ProductionVariants",
            "one production variant",
        ),
        ({"Model": CONFIG["Model"], "Endpoint": CONFIG["Endpoint"]}, "config", "not looked up here"),
    ],
)  # fmt: skip
def test_what_cannot_be_honoured_is_refused_by_name(config, field, advice):
    with pytest.raises(SpecError) as refused:
        endpoint_kwargs(config)
    assert field in refused.value.parameter and advice in str(refused.value)


@pytest.mark.parametrize(
    ("operation", "rules"), [("CreateEndpointConfig", ENDPOINT_CONFIG_RULES), ("CreateEndpoint", ENDPOINT_RULES)]
)
def test_every_top_level_field_and_variant_field_of_botocores_input_shape_has_a_rule(operation, rules):
    model = botocore.session.get_session().get_service_model("sagemaker").operation_model(operation)
    ruled = {path for path, _ in rules_table(rules)}

    def covered(path: str) -> bool:
        return path in ruled or any(r.startswith((path + ".", path + "[].")) for r in ruled)

    missing = [name for name in model.input_shape.members if not covered(name)]
    if "ProductionVariants" in model.input_shape.members:
        variant = model.input_shape.members["ProductionVariants"].member
        missing += [
            f"ProductionVariants[].{name}" for name in variant.members if not covered(f"ProductionVariants[].{name}")
        ]
    assert missing == []
