"""The compute="ec2" branch of DeployEndpointOperator, DeleteEndpointOperator and EndpointInServiceSensor."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ml_lifecycle.core import checks
from ml_lifecycle.core.checks import check_error_rate, ec2_instance_type
from ml_lifecycle.errors import SpecError

if TYPE_CHECKING:  # DeployEndpointOperator's module imports this one at DAG parse time, which needs no specs
    from ml_lifecycle.core.specs import EndpointSpec

SCHEMES = ("internet-facing", "internal")


def _cidrs(value: Any) -> tuple[str, ...]:
    """Accept a list of IPv4 CIDR ranges.

    :param value: e.g. ``["10.0.0.0/8"]``.
    """
    import ipaddress

    if isinstance(value, str) or not value:
        raise SpecError("ingress_cidrs", f"{value!r} is not a non-empty list", "Write e.g. ['10.0.0.0/8']")
    for cidr in value:
        try:
            ipaddress.IPv4Network(cidr)
        except (ValueError, TypeError) as err:
            raise SpecError("ingress_cidrs", f"{cidr!r} is not an IPv4 range", "Write e.g. '10.0.0.0/8'") from err
    return tuple(value)


def _subnets(value: Any) -> tuple[str, ...]:
    """Accept a list of at least two subnet ids.

    :param value: e.g. ``["subnet-0abc...", "subnet-0def..."]``.
    """
    if (
        isinstance(value, str)
        or len(value) < 2
        or not all(isinstance(s, str) and s.startswith("subnet-") for s in value)
    ):
        raise SpecError(
            "alb_subnet_ids", f"{value!r} is not two or more subnet ids", "Write ['subnet-...', 'subnet-...']"
        )
    return tuple(value)


def _traffic_shift(value: Any) -> Any:
    """Build and so validate a traffic_shift dict (its module loads only when one is given).

    :param value: the operator's traffic_shift.
    """
    from ml_lifecycle.core.traffic_shift import TrafficShift

    return TrafficShift.build(value)


def check(operator: Any) -> None:
    """Check the ec2 parameters of a DeployEndpointOperator when it is built (templated ones wait for execute).

    :param operator: the operator.
    """
    checks.check_now(
        {
            "instance_type": (operator.instance_type, ec2_instance_type),
            "ec2_settings": (operator.ec2_settings, checks.check_ec2_settings),
            "traffic_shift": (operator.traffic_shift, _traffic_shift),
            "bake_s": (operator.bake_s, lambda v: checks.check_positive_int("bake_s", v, 0, 24 * 3600)),
            "max_error_rate": (operator.max_error_rate, check_error_rate),
            "alb_subnet_ids": (operator.alb_subnet_ids, _subnets),
            "ingress_cidrs": (operator.ingress_cidrs, _cidrs),
            "alb_scheme": (operator.alb_scheme, lambda v: checks.check_choice("alb_scheme", v, SCHEMES)),
        }
    )


def deploy(operator: Any, spec: EndpointSpec, owner: dict[str, str]) -> dict[str, Any]:
    """Create or update the endpoint on EC2 and return its URL and revision.

    :param operator: the DeployEndpointOperator.
    :param spec: the endpoint spec.
    :param owner: the Airflow identity labels.
    """
    from ml_lifecycle import backends
    from ml_lifecycle.compute.ec2.endpoint_rollout import RolloutPolicy
    from ml_lifecycle.compute.ec2.endpoint_state import state_prefix
    from ml_lifecycle.compute.ec2.endpoints import EndpointNetwork
    from ml_lifecycle.core.ec2_settings import Ec2Settings
    from ml_lifecycle.core.traffic_shift import TrafficShift

    check(operator)
    network = EndpointNetwork(
        alb_subnet_ids=_subnets(operator.alb_subnet_ids) if operator.alb_subnet_ids else (),
        ingress_cidrs=_cidrs(operator.ingress_cidrs) if operator.ingress_cidrs else ("0.0.0.0/0",),
        scheme=operator.alb_scheme,
    )
    policy = RolloutPolicy(
        traffic_shift=TrafficShift.build(operator.traffic_shift),
        bake_s=checks.check_positive_int("bake_s", operator.bake_s, 0),
        max_error_rate=check_error_rate(operator.max_error_rate),
    )
    prefix = state_prefix(operator.state_uri, spec.model_uri, spec.endpoint_name)
    endpoints = backends.ec2_endpoints(
        operator.aws_conn_id, Ec2Settings.build(operator.ec2_settings), network, operator.poll_interval_s
    )
    state = endpoints.deploy(spec, operator.instance_type, owner, prefix, policy, operator.log.info)
    live = state.live
    return {
        "endpoint_name": state.endpoint_name,
        "url": state.url,
        "invocations_url": f"{state.url}/invocations",
        "revision": live.revision,
        "model_uri": live.model_uri,
        "image_uri": live.image_uri,
        "state_uri": str(prefix),
        "load_balancer_arn": state.load_balancer_arn,
    }


def delete(operator: Any, owner: dict[str, str]) -> dict[str, Any]:
    """Delete the endpoint's AWS resources and state; say how many of each went.

    :param operator: the DeleteEndpointOperator.
    :param owner: the Airflow identity labels (a deploy of the same DAG run does not block the delete).
    """
    from ml_lifecycle import backends
    from ml_lifecycle.compute.ec2.endpoints import EndpointNetwork
    from ml_lifecycle.core.ec2_settings import Ec2Settings
    from ml_lifecycle.core.uris import parse_uri

    endpoints = backends.ec2_endpoints(operator.aws_conn_id, Ec2Settings(), EndpointNetwork())
    prefix = parse_uri(operator.state_uri, "state_uri") if operator.state_uri else None
    removed = endpoints.delete(operator.endpoint_name, prefix, operator.log.info, owner)
    return {"endpoint_name": operator.endpoint_name, **removed}


def describe(sensor: Any) -> tuple[Any, str | None]:
    """Return an EC2 endpoint's state and why its live revision is unhealthy (None when healthy).

    :param sensor: the EndpointInServiceSensor.
    """
    from ml_lifecycle import backends
    from ml_lifecycle.compute.ec2.endpoints import EndpointNetwork
    from ml_lifecycle.core.ec2_settings import Ec2Settings
    from ml_lifecycle.core.uris import parse_uri

    endpoints = backends.ec2_endpoints(sensor.aws_conn_id, Ec2Settings(), EndpointNetwork())
    prefix = parse_uri(sensor.state_uri, "state_uri") if sensor.state_uri else None
    return endpoints.describe(sensor.endpoint_name, prefix)
