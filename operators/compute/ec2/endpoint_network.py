"""An endpoint's network: the load balancer's subnets, its security group, and the instances' group behind it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ml_lifecycle.compute.ec2.fleet import ClientFactory, ec2_errors
from ml_lifecycle.compute.ec2.security_group import delete_security_group
from ml_lifecycle.core import checks
from ml_lifecycle.core.contract import SERVING_PORT
from ml_lifecycle.core.ec2.endpoint_access import AUTH_IAM, AUTH_NONE, EndpointAccess, check_auth, check_certificate_arn
from ml_lifecycle.core.ec2.endpoint_options import SCHEMES, cidrs, subnets
from ml_lifecycle.core.ec2.launch import as_tag_list
from ml_lifecycle.errors import ComputeError

DELETE_ATTEMPTS = 24
DELETE_RETRY_S = 5.0  # a deleted load balancer's network interfaces take a while to go


@dataclass(frozen=True)
class EndpointNetwork:
    """Where the load balancer lives and who may call it.

    :param alb_subnet_ids: the load balancer's subnets (two zones at least); empty picks the VPC's default subnets.
    :param access: its scheme, callers, TLS and authentication (default: internal, the VPC's own ranges, HTTP).
    """

    alb_subnet_ids: Sequence[str] = ()
    access: EndpointAccess = field(default_factory=EndpointAccess)


def endpoint_network(options: Mapping[str, Any]) -> EndpointNetwork:
    """Build the load balancer's placement and callers from an operator's options.

    :param options: alb_subnet_ids, ingress_cidrs, alb_scheme, certificate_arn and auth, as given (rendered).
    """
    subnet_ids = options.get("alb_subnet_ids")
    ingress = options.get("ingress_cidrs")
    certificate = options.get("certificate_arn")
    access = EndpointAccess(
        scheme=checks.check_choice("alb_scheme", options.get("alb_scheme") or SCHEMES[0], SCHEMES),
        ingress_cidrs=cidrs(ingress) if ingress else (),
        certificate_arn=check_certificate_arn(certificate) if certificate else "",
        auth=check_auth(options.get("auth") or AUTH_NONE),
    )
    return EndpointNetwork(alb_subnet_ids=subnets(subnet_ids) if subnet_ids else (), access=access)


def load_balancer_subnets(ec2: ClientFactory, vpc_id: str, subnet_ids: Sequence[str]) -> list[str]:
    """Return the load balancer's subnets: the ones given, else one default subnet per availability zone of the VPC.

    :param ec2: builds the EC2 client.
    :param vpc_id: the VPC of the instances.
    :param subnet_ids: the subnets the user chose (alb_subnet_ids), or empty.
    """
    client = ec2()
    filters = [{"Name": "vpc-id", "Values": [vpc_id]}]
    with ec2_errors("listing the VPC's subnets"):
        if subnet_ids:
            subnets = client.describe_subnets(SubnetIds=list(subnet_ids))["Subnets"]
        else:
            subnets = client.describe_subnets(Filters=filters)["Subnets"]
    if subnet_ids:
        outside = sorted(s["SubnetId"] for s in subnets if s["VpcId"] != vpc_id)
        if outside:
            raise ComputeError(f"alb_subnet_ids {outside} are not in the instances' VPC {vpc_id}. Give subnets of it")
    by_zone: dict[str, str] = {}
    for subnet in sorted(subnets, key=lambda s: (not s.get("DefaultForAz", False), s["SubnetId"])):
        by_zone.setdefault(str(subnet["AvailabilityZone"]), str(subnet["SubnetId"]))
    if len(by_zone) < 2:
        raise ComputeError(
            f"An Application Load Balancer needs subnets in two availability zones; VPC {vpc_id} offers "
            f"{sorted(by_zone) or 'none'} here. Give alb_subnet_ids=['subnet-...', 'subnet-...'] in two zones"
        )
    return list(subnet_ids) if subnet_ids else sorted(by_zone.values())


def vpc_ranges(ec2: ClientFactory, vpc_id: str) -> list[str]:
    """Return the VPC's associated IPv4 ranges (its own callers; the default ingress of its endpoints).

    :param ec2: builds the EC2 client.
    :param vpc_id: the VPC.
    """
    with ec2_errors(f"describing the VPC {vpc_id}"):
        vpc = ec2().describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
    associated = [
        str(a["CidrBlock"])
        for a in vpc.get("CidrBlockAssociationSet", [])
        if a.get("CidrBlockState", {}).get("State", "associated") == "associated"
    ]
    return associated or [str(vpc["CidrBlock"])]


def create_endpoint_groups(
    ec2: ClientFactory, endpoint_name: str, vpc_id: str, access: EndpointAccess, tags: Mapping[str, str]
) -> tuple[str, str, str]:
    """Create the endpoint's security groups; return the load balancer's, the instances' and the VPC link's ("" without).

    The load balancer's group admits the listener's port from the access's ranges, or, behind an IAM gateway, from
    the VPC link's group only; the instances' group admits 8080 from the load balancer's group only.

    :param ec2: builds the EC2 client.
    :param endpoint_name: the endpoint's name.
    :param vpc_id: the VPC.
    :param access: who may call the load balancer (resolved: its ranges are final).
    :param tags: the endpoint's tags.
    """
    port = access.listener_port
    link_group = ""
    if access.auth == AUTH_IAM:
        link_group = _create_group(ec2, f"mlc-ep-{endpoint_name}-link", "its API Gateway VPC link", vpc_id, tags)
        callers: dict[str, list[dict[str, str]]] = {"UserIdGroupPairs": [{"GroupId": link_group}]}
    else:
        callers = {"IpRanges": [{"CidrIp": cidr} for cidr in access.ingress_cidrs]}
    alb_group = _create_group(
        ec2, f"mlc-ep-{endpoint_name}-alb", f"{access.listener_protocol} to its load balancer", vpc_id, tags
    )
    _admit(ec2, alb_group, port, callers)
    instance_group = _create_group(
        ec2, f"mlc-ep-{endpoint_name}", f"port {SERVING_PORT} from its load balancer only", vpc_id, tags
    )
    _admit(ec2, instance_group, SERVING_PORT, {"UserIdGroupPairs": [{"GroupId": alb_group}]})
    return alb_group, instance_group, link_group


def _create_group(ec2: ClientFactory, name: str, purpose: str, vpc_id: str, tags: Mapping[str, str]) -> str:
    """Create one tagged security group and return its id.

    :param ec2: builds the EC2 client.
    :param name: the group's name.
    :param purpose: what it admits, for its description.
    :param vpc_id: the VPC.
    :param tags: the endpoint's tags.
    """
    spec = [{"ResourceType": "security-group", "Tags": as_tag_list(tags)}]
    description = f"ml-lifecycle endpoint {tags.get('Name', name)}: {purpose}"
    with ec2_errors(f"creating the security group {name}"):
        created = ec2().create_security_group(
            GroupName=name, Description=description, VpcId=vpc_id, TagSpecifications=spec
        )
    return str(created["GroupId"])


def _admit(ec2: ClientFactory, group_id: str, port: int, callers: Mapping[str, list[dict[str, str]]]) -> None:
    """Let callers (IpRanges or UserIdGroupPairs) reach a TCP port of a group.

    :param ec2: builds the EC2 client.
    :param group_id: the group.
    :param port: the TCP port.
    :param callers: ``{"IpRanges": [...]}`` or ``{"UserIdGroupPairs": [...]}``.
    """
    rule = {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, **callers}
    with ec2_errors(f"opening port {port} of {group_id}"):
        ec2().authorize_security_group_ingress(GroupId=group_id, IpPermissions=[rule])


def tagged_groups(ec2: ClientFactory, tags: Mapping[str, str]) -> list[str]:
    """Return the ids of the security groups carrying every tag given, each before the group it refers to.

    :param ec2: builds the EC2 client.
    :param tags: tag key -> value.
    """
    filters = [{"Name": f"tag:{key}", "Values": [value]} for key, value in tags.items()]
    with ec2_errors("listing security groups"):
        groups = ec2().describe_security_groups(Filters=filters)["SecurityGroups"]
    # The instances' group refers to the load balancer's, which refers to the VPC link's: delete in that order.
    return [str(g["GroupId"]) for g in sorted(groups, key=lambda g: _deletion_rank(str(g["GroupName"])))]


def _deletion_rank(group_name: str) -> int:
    """Return when an endpoint's group may go: the instances' (0), the load balancer's (1), the VPC link's (2).

    :param group_name: the group's name.
    """
    return 1 if group_name.endswith("-alb") else 2 if group_name.endswith("-link") else 0


def delete_groups(ec2: ClientFactory, group_ids: Sequence[str]) -> int:
    """Delete security groups in order, retrying while EC2 says they are in use; return how many were deleted.

    :param ec2: builds the EC2 client.
    :param group_ids: the groups, the instances' group before the load balancer's (it refers to it).
    """
    from botocore.exceptions import ClientError

    deleted = 0
    for group_id in group_ids:
        try:
            deleted += delete_security_group(ec2, group_id, DELETE_ATTEMPTS, DELETE_RETRY_S)
        except ClientError as err:
            raise ComputeError(f"EC2 refused deleting security group {group_id}: {err}") from err
    return deleted
