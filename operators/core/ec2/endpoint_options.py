"""What an EC2 endpoint takes beyond the spec: its load balancer's subnets, callers, scheme, TLS and auth, and rollout."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ml_lifecycle.core import checks
from ml_lifecycle.core.checks import check_error_rate, ec2_instance_type
from ml_lifecycle.core.errors import SpecError

SCHEMES = ("internal", "internet-facing")  # the first is the default


def cidrs(value: Any) -> tuple[str, ...]:
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


def subnets(value: Any) -> tuple[str, ...]:
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
    from ml_lifecycle.core.ec2.traffic_shift import TrafficShift

    return TrafficShift.build(value)


def _check_ec2_settings(values: Any) -> Any:
    """Validate ec2_settings (the launch-settings module loads only when there are some, not at DAG parse time).

    :param values: setting name -> value.
    """
    from ml_lifecycle.core.ec2.settings import check_ec2_settings

    return check_ec2_settings(values)


def endpoint_option_checks(options: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Return the checks of an EC2 endpoint's options, for checks.check_now (templated values wait for execute).

    :param options: the operator's values of instance_type, ec2_settings, traffic_shift, bake_s, max_error_rate,
        alb_subnet_ids, ingress_cidrs, alb_scheme, certificate_arn, auth, instance_count, min_instances, max_instances
        and target_invocations_per_instance.
    """
    from ml_lifecycle.core.ec2.endpoint_scaling import ScalingBounds

    scaling = tuple(options.get(k) for k in ("min_instances", "max_instances", "target_invocations_per_instance"))
    from ml_lifecycle.core.ec2.endpoint_access import check_auth, check_certificate_arn

    return {
        "instance_type": (options.get("instance_type"), ec2_instance_type),
        "ec2_settings": (options.get("ec2_settings"), _check_ec2_settings),
        "traffic_shift": (options.get("traffic_shift"), _traffic_shift),
        "bake_s": (options.get("bake_s"), lambda v: checks.check_positive_int("bake_s", v, 0, 24 * 3600)),
        "max_error_rate": (options.get("max_error_rate"), check_error_rate),
        "alb_subnet_ids": (options.get("alb_subnet_ids"), subnets),
        "ingress_cidrs": (options.get("ingress_cidrs"), cidrs),
        "alb_scheme": (options.get("alb_scheme"), lambda v: checks.check_choice("alb_scheme", v, SCHEMES)),
        "certificate_arn": (options.get("certificate_arn"), check_certificate_arn),
        "auth": (options.get("auth"), check_auth),
        "min_instances": (
            None if all(v is None for v in scaling) else (options.get("instance_count", 1), *scaling),
            lambda v: ScalingBounds.build(*v),
        ),
    }
