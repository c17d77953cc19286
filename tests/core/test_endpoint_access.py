"""Who may reach an EC2 endpoint: new endpoints stay in their VPC unless IAM guards them; updates keep the access."""

from __future__ import annotations

import pytest

from ml_lifecycle.core.ec2.endpoint_access import (
    LEGACY,
    EndpointAccess,
    change_refusal,
    check_auth,
    check_certificate_arn,
    new_endpoint_refusal,
    outside_ranges,
)
from ml_lifecycle.errors import SpecError

VPC = ("172.31.0.0/16", "10.8.0.0/16")
CERT = "arn:aws:acm:us-east-1:123456789012:certificate/abc"


@pytest.mark.parametrize(
    ("access", "parameter", "mentions"),
    [
        (EndpointAccess(), None, ""),
        (EndpointAccess(ingress_cidrs=("172.31.4.0/24", "10.8.0.0/16")), None, ""),
        (EndpointAccess(certificate_arn=CERT), None, ""),
        (EndpointAccess(auth="iam"), None, ""),
        (EndpointAccess(auth="iam", certificate_arn=CERT), None, ""),
        (EndpointAccess(scheme="internet-facing"), "alb_scheme", "auth='iam'"),
        (EndpointAccess(scheme="internet-facing", certificate_arn=CERT), "alb_scheme", "cannot check IAM"),
        (EndpointAccess(scheme="internet-facing", auth="iam", certificate_arn=CERT), "alb_scheme", "internet"),
        (EndpointAccess(ingress_cidrs=("0.0.0.0/0",)), "ingress_cidrs", "outside the VPC's ranges"),
        (EndpointAccess(ingress_cidrs=("172.30.0.0/15",)), "ingress_cidrs", "['172.30.0.0/15']"),
        (EndpointAccess(ingress_cidrs=("172.31.0.0/24",), auth="iam"), "ingress_cidrs", "VPC link"),
    ],
)
def test_a_new_endpoint_is_refused_any_way_in_from_outside_its_vpc_but_iam(
    access: EndpointAccess, parameter: str | None, mentions: str
) -> None:
    refusal = new_endpoint_refusal(access.resolved(VPC), VPC)
    if parameter is None:
        assert refusal is None
    else:
        assert refusal is not None and refusal.parameter == parameter and mentions in str(refusal)


@pytest.mark.parametrize(
    ("access", "resolved"),
    [
        (EndpointAccess(), EndpointAccess(ingress_cidrs=VPC)),
        (EndpointAccess(ingress_cidrs=("10.8.1.0/24",)), EndpointAccess(ingress_cidrs=("10.8.1.0/24",))),
        (EndpointAccess(auth="iam"), EndpointAccess(auth="iam")),  # behind IAM: only the VPC link comes in
    ],
)
def test_the_default_ingress_is_the_vpcs_own_ranges(access: EndpointAccess, resolved: EndpointAccess) -> None:
    assert access.resolved(VPC) == resolved


def test_a_state_without_recorded_access_had_the_old_open_default() -> None:
    assert EndpointAccess.from_dict(None) == LEGACY
    assert (LEGACY.scheme, LEGACY.ingress_cidrs, LEGACY.listener_protocol, LEGACY.auth) == (
        "internet-facing",
        ("0.0.0.0/0",),
        "HTTP",
        "none",
    )
    for access in (EndpointAccess(ingress_cidrs=VPC), EndpointAccess(auth="iam", certificate_arn=CERT)):
        assert EndpointAccess.from_dict(access.to_dict()) == access


@pytest.mark.parametrize(
    ("recorded", "asked", "keep"),
    [
        (
            LEGACY,
            EndpointAccess(ingress_cidrs=VPC),
            "alb_scheme='internet-facing', auth='none', ingress_cidrs=['0.0.0.0/0']",
        ),
        (
            EndpointAccess(ingress_cidrs=VPC),
            EndpointAccess(auth="iam"),
            "ingress_cidrs=['172.31.0.0/16', '10.8.0.0/16']",
        ),
        (EndpointAccess(auth="iam"), EndpointAccess(ingress_cidrs=VPC), "alb_scheme='internal', auth='iam'"),
        (EndpointAccess(ingress_cidrs=VPC, certificate_arn=CERT), EndpointAccess(ingress_cidrs=VPC), CERT),
    ],
)
def test_an_update_that_changes_access_is_refused_saying_how_to_keep_or_change_it(
    recorded: EndpointAccess, asked: EndpointAccess, keep: str
) -> None:
    refusal = change_refusal("ep", recorded, asked)
    assert refusal is not None
    assert keep in str(refusal)
    assert "ml-lifecycle delete-endpoint --compute ec2 ep" in str(refusal)
    assert recorded.describe() in str(refusal) and asked.describe() in str(refusal)


def test_an_update_that_keeps_the_access_passes_even_the_old_open_default() -> None:
    assert change_refusal("ep", LEGACY, EndpointAccess("internet-facing", ("0.0.0.0/0",))) is None
    assert change_refusal("ep", EndpointAccess(auth="iam"), EndpointAccess(auth="iam")) is None


def test_ranges_outside_the_vpc() -> None:
    assert outside_ranges(["172.31.9.0/24", "192.168.0.0/16", "10.8.0.0/17"], VPC) == ["192.168.0.0/16"]


@pytest.mark.parametrize(
    ("check", "value"), [(check_auth, "sigv4"), (check_certificate_arn, "cert-1"), (check_certificate_arn, 3)]
)
def test_bad_options_say_what_to_write(check, value) -> None:
    with pytest.raises(SpecError, match="Write"):
        check(value)


def test_listener_follows_the_certificate() -> None:
    assert (EndpointAccess().listener_protocol, EndpointAccess().listener_port) == ("HTTP", 80)
    assert (
        EndpointAccess(certificate_arn=CERT).listener_protocol,
        EndpointAccess(certificate_arn=CERT).listener_port,
    ) == (
        "HTTPS",
        443,
    )
