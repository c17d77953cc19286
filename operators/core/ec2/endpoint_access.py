"""Who may reach an EC2 endpoint and how: the rules that keep it private unless TLS and IAM guard it.

A new endpoint's load balancer is internal and admits only its VPC's own ranges. Callers outside the VPC come in
through an API Gateway HTTP API that checks IAM signatures (TLS, like SageMaker's InvokeEndpoint) and reaches the
internal load balancer through a VPC link. A load balancer cannot check IAM signatures, so an internet-facing one, or
one open to ranges outside the VPC, would serve the model without authentication: both are refused for new endpoints.
An endpoint made before these defaults keeps its access only when the deploy asks for exactly that access.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from ml_lifecycle.core.errors import SpecError

INTERNAL, INTERNET_FACING = "internal", "internet-facing"
AUTH_NONE, AUTH_IAM = "none", "iam"
AUTH_MODES = (AUTH_NONE, AUTH_IAM)
HTTP_PORT, HTTPS_PORT = 80, 443
IAM_FIX = (
    "Keep alb_scheme='internal' and give auth='iam': an API Gateway HTTP API with IAM authorization (TLS) reaches "
    "the internal load balancer through a VPC link, and `ml-lifecycle invoke` signs its requests"
)


@dataclass(frozen=True)
class EndpointAccess:
    """How an endpoint is reached.

    :param scheme: the load balancer's scheme, ``internal`` (default) or ``internet-facing``.
    :param ingress_cidrs: the IPv4 ranges the load balancer admits; empty means the VPC's own ranges.
    :param certificate_arn: an ACM certificate: the listener speaks HTTPS on 443 with it (no HTTP listener); empty
        for HTTP on 80.
    :param auth: ``none`` (default) or ``iam`` (an API Gateway HTTP API with IAM authorization in front; the load
        balancer then admits only the API's VPC link).
    """

    scheme: str = INTERNAL
    ingress_cidrs: tuple[str, ...] = ()
    certificate_arn: str = ""
    auth: str = AUTH_NONE

    @property
    def listener_protocol(self) -> str:
        """``HTTPS`` with a certificate, else ``HTTP``."""
        return "HTTPS" if self.certificate_arn else "HTTP"

    @property
    def listener_port(self) -> int:
        """443 with a certificate, else 80."""
        return HTTPS_PORT if self.certificate_arn else HTTP_PORT

    def resolved(self, vpc_cidrs: Sequence[str]) -> EndpointAccess:
        """Return the access with the default ingress filled in: the VPC's ranges (none behind an IAM gateway).

        :param vpc_cidrs: the VPC's IPv4 ranges.
        """
        if self.ingress_cidrs or self.auth == AUTH_IAM:
            return self
        return EndpointAccess(self.scheme, tuple(vpc_cidrs), self.certificate_arn, self.auth)

    def describe(self) -> str:
        """Return the access in words, for messages."""
        door = f"{self.listener_protocol} on {self.listener_port}"
        callers = f"from {', '.join(self.ingress_cidrs)}" if self.ingress_cidrs else "from its VPC link only"
        gate = "behind an API Gateway with IAM authorization" if self.auth == AUTH_IAM else "without authentication"
        return f"{self.scheme}, {door} {callers}, {gate}"

    def to_dict(self) -> dict[str, Any]:
        """Return the access as JSON-safe data (from_dict reverses it)."""
        return {**asdict(self), "ingress_cidrs": list(self.ingress_cidrs)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> EndpointAccess:
        """Read an access written by to_dict; None (a state written before access was recorded) is LEGACY.

        :param data: the recorded access, or None.
        """
        if data is None:
            return LEGACY
        return cls(str(data["scheme"]), tuple(data["ingress_cidrs"]), str(data["certificate_arn"]), str(data["auth"]))


# What every EC2 endpoint got before secure defaults: internet-facing, plain HTTP on 80, open to everyone.
LEGACY = EndpointAccess(INTERNET_FACING, ("0.0.0.0/0",))


def outside_ranges(cidrs: Sequence[str], vpc_cidrs: Sequence[str]) -> list[str]:
    """Return the ranges of cidrs that are not inside one of the VPC's ranges.

    :param cidrs: the ingress ranges asked for.
    :param vpc_cidrs: the VPC's IPv4 ranges.
    """
    inside = [ipaddress.IPv4Network(v, strict=False) for v in vpc_cidrs]
    return [c for c in cidrs if not any(ipaddress.IPv4Network(c, strict=False).subnet_of(v) for v in inside)]


def new_endpoint_refusal(access: EndpointAccess, vpc_cidrs: Sequence[str]) -> SpecError | None:
    """Return why a new endpoint may not have this access, or None when it may.

    :param access: the access asked for (resolved or not).
    :param vpc_cidrs: the VPC's IPv4 ranges.
    """
    if access.scheme == INTERNET_FACING:
        return SpecError(
            "alb_scheme",
            "an internet-facing load balancer would serve the model to the internet, and a load balancer cannot "
            "check IAM signatures",
            IAM_FIX,
        )
    if access.auth == AUTH_IAM and access.ingress_cidrs:
        return SpecError(
            "ingress_cidrs",
            "with auth='iam' the load balancer admits only the API's VPC link; other ranges would skip the IAM check",
            "Leave ingress_cidrs out",
        )
    outside = outside_ranges(access.ingress_cidrs, vpc_cidrs)
    if outside:
        return SpecError(
            "ingress_cidrs",
            f"{outside} lie outside the VPC's ranges {list(vpc_cidrs)}: callers there would reach the model without "
            "TLS and authentication",
            f"Give ranges of the VPC, or: {IAM_FIX}",
        )
    return None


def change_refusal(endpoint_name: str, recorded: EndpointAccess, asked: EndpointAccess) -> SpecError | None:
    """Return why an update may not change an existing endpoint's access, or None when it keeps it.

    :param endpoint_name: the endpoint's name.
    :param recorded: the access the endpoint has.
    :param asked: the access the deploy asks for, resolved.
    """
    if recorded == asked:
        return None
    keep = [f"alb_scheme={recorded.scheme!r}", f"auth={recorded.auth!r}"]
    if recorded.auth != AUTH_IAM:
        keep.append(f"ingress_cidrs={list(recorded.ingress_cidrs)!r}")
    if recorded.certificate_arn:
        keep.append(f"certificate_arn={recorded.certificate_arn!r}")
    return SpecError(
        "alb_scheme",
        f"endpoint {endpoint_name} is {recorded.describe()}; this deploy asks for {asked.describe()}, and an update "
        "never opens or closes an endpoint silently",
        f"To keep it as it is, pass {', '.join(keep)}. To take the new access, delete the endpoint "
        f"(DeleteEndpointOperator or `ml-lifecycle delete-endpoint --compute ec2 {endpoint_name}`) and deploy it "
        "again: its URL changes",
    )


def check_auth(value: Any) -> str:
    """Accept an auth mode.

    :param value: ``none`` or ``iam``.
    """
    if value not in AUTH_MODES:
        raise SpecError("auth", f"{value!r} is not one of {list(AUTH_MODES)}", "Write auth='iam' or leave it out")
    return str(value)


def check_certificate_arn(value: Any) -> str:
    """Accept an ACM certificate ARN.

    :param value: ``arn:aws:acm:<region>:<account>:certificate/<id>``.
    """
    if not isinstance(value, str) or not value.startswith("arn:") or ":acm:" not in value:
        raise SpecError(
            "certificate_arn",
            f"{value!r} is not an ACM certificate ARN",
            "Write arn:aws:acm:<region>:<account>:certificate/<id>",
        )
    return value


def execute_api_region(url: str) -> str | None:
    """Return the region of an API Gateway address (``https://<id>.execute-api.<region>.amazonaws.com``), else None.

    :param url: an endpoint's URL.
    """
    found = re.fullmatch(r"[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?", urlsplit(url).hostname or "")
    return found.group(1) if found else None


def signing_region(details: Mapping[str, str]) -> str | None:
    """Return the region an endpoint's requests are SigV4-signed for (execute-api), or None when it takes them unsigned.

    :param details: the endpoint's description details (``auth`` and ``region``, as the EC2 backend reports them).
    """
    return details.get("region") or None if details.get("auth") == AUTH_IAM else None
