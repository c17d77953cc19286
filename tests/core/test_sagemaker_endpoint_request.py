"""CreateEndpointConfig and CreateEndpoint field by field: the provider's endpoint config in DeployEndpointOperator's
terms, blue/green deployment configs as traffic shifts, the ``ml-lifecycle:`` access tags, and every field of
botocore's input shapes with a rule."""

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


CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0b1e5d0c-8a4f-4b33-9a57-1f0a2c7d9e11"


def _tagged(config_tags: list[dict[str, str]] | None = None, endpoint_tags: list[dict[str, str]] | None = None) -> Any:
    """Return CONFIG with Tags on its EndpointConfig and Endpoint.

    :param config_tags: the EndpointConfig's tags, or None.
    :param endpoint_tags: the Endpoint's tags, or None.
    """
    config = copy.deepcopy(CONFIG)
    if config_tags is not None:
        config["EndpointConfig"]["Tags"] = config_tags
    if endpoint_tags is not None:
        config["Endpoint"]["Tags"] = endpoint_tags
    return config


def _tag(key: str, value: str) -> dict[str, str]:
    """Return one tag.

    :param key: its key.
    :param value: its value.
    """
    return {"Key": key, "Value": value}


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ([_tag("ml-lifecycle:auth", "iam")], {"auth": "iam"}),
        ([_tag("ml-lifecycle:certificate-arn", CERTIFICATE)], {"certificate_arn": CERTIFICATE}),
        ([_tag("ml-lifecycle:alb-scheme", "internet-facing")], {"alb_scheme": "internet-facing"}),
        ([_tag("ml-lifecycle:ingress-cidrs", "10.1.0.0/16  10.2.0.0/16")], {"ingress_cidrs": ["10.1.0.0/16", "10.2.0.0/16"]}),
        ([_tag("ml-lifecycle:alb-subnet-ids", "subnet-1 subnet-2")], {"alb_subnet_ids": ["subnet-1", "subnet-2"]}),
        (
            [_tag("ml-lifecycle:auth", "iam"), _tag("ml-lifecycle:certificate-arn", CERTIFICATE), _tag("team", "risk")],
            {"auth": "iam", "certificate_arn": CERTIFICATE},
        ),
        ([_tag("team", "risk"), _tag("ml-lifecycle:compute", "ec2")], {}),  # compute: read by the API server
        ([], {}),
    ],
)  # fmt: skip
@pytest.mark.parametrize("on", ["EndpointConfig", "Endpoint", "both"])
def test_access_tags_become_the_operators_access_parameters(tags, expected, on):
    config = _tagged(tags if on in ("EndpointConfig", "both") else None, tags if on in ("Endpoint", "both") else None)
    assert endpoint_kwargs(config) == {**KWARGS, **expected}


def test_the_endpoint_config_and_the_endpoint_may_each_give_some_of_the_options():
    config = _tagged([_tag("ml-lifecycle:certificate-arn", CERTIFICATE)], [_tag("ml-lifecycle:auth", "iam")])
    assert endpoint_kwargs(config) == {**KWARGS, "certificate_arn": CERTIFICATE, "auth": "iam"}


@pytest.mark.parametrize(
    ("config", "field", "advice"),
    [
        (_tagged([_tag("ml-lifecycle:authentication", "iam")]), "Tags[ml-lifecycle:authentication]", "ml-lifecycle:auth"),
        (_tagged(None, [_tag("ml-lifecycle:auth", " ")]), "Tags[ml-lifecycle:auth]", "value"),
        (_tagged([{"Value": "iam"}]), "Tags", "list of tags"),
        (_tagged([_tag("ml-lifecycle:auth", "iam")], [_tag("ml-lifecycle:auth", "none")]), "Tags", "same value"),
    ],
)  # fmt: skip
def test_an_unknown_access_tag_an_empty_value_or_two_values_are_refused_by_name(config, field, advice):
    with pytest.raises(SpecError) as refused:
        endpoint_kwargs(config)
    assert refused.value.parameter == field and advice in str(refused.value)


def test_the_operator_checks_the_options_the_tags_give_when_the_dag_is_parsed():
    from ml_lifecycle import DeployEndpointOperator

    with pytest.raises(SpecError) as refused:
        DeployEndpointOperator.from_sagemaker(
            _tagged([_tag("ml-lifecycle:auth", "kerberos")]), task_id="deploy", compute="ec2"
        )
    assert "auth" in refused.value.parameter
