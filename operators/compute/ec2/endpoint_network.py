"""An endpoint's network: the load balancer's subnets, its security group, and the instances' group behind it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ml_lifecycle.compute.ec2.fleet import ClientFactory, ec2_errors
from ml_lifecycle.compute.ec2.load_balancer import LISTENER_PORT
from ml_lifecycle.compute.ec2.security_group import delete_security_group
from ml_lifecycle.core.contract import SERVING_PORT
from ml_lifecycle.core.ec2.launch import as_tag_list
from ml_lifecycle.errors import ComputeError

DELETE_ATTEMPTS = 24
DELETE_RETRY_S = 5.0  # a deleted load balancer's network interfaces take a while to go


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


def create_endpoint_groups(
    ec2: ClientFactory, endpoint_name: str, vpc_id: str, ingress_cidrs: Sequence[str], tags: Mapping[str, str]
) -> tuple[str, str]:
    """Create the load balancer's group (port 80 from ingress_cidrs) and the instances' group (8080 from it only).

    :param ec2: builds the EC2 client.
    :param endpoint_name: the endpoint's name.
    :param vpc_id: the VPC.
    :param ingress_cidrs: the IPv4 ranges that may call the endpoint.
    :param tags: the endpoint's tags.
    """
    client = ec2()
    spec = [{"ResourceType": "security-group", "Tags": as_tag_list(tags)}]
    with ec2_errors("creating the endpoint's security groups"):
        alb_group = str(
            client.create_security_group(
                GroupName=f"mlc-ep-{endpoint_name}-alb",
                Description=f"ml-lifecycle endpoint {endpoint_name}: HTTP to its load balancer",
                VpcId=vpc_id,
                TagSpecifications=spec,
            )["GroupId"]
        )
        client.authorize_security_group_ingress(
            GroupId=alb_group,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": LISTENER_PORT,
                    "ToPort": LISTENER_PORT,
                    "IpRanges": [{"CidrIp": cidr} for cidr in ingress_cidrs],
                }
            ],
        )
        instance_group = str(
            client.create_security_group(
                GroupName=f"mlc-ep-{endpoint_name}",
                Description=f"ml-lifecycle endpoint {endpoint_name}: port {SERVING_PORT} from its load balancer only",
                VpcId=vpc_id,
                TagSpecifications=spec,
            )["GroupId"]
        )
        client.authorize_security_group_ingress(
            GroupId=instance_group,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": SERVING_PORT,
                    "ToPort": SERVING_PORT,
                    "UserIdGroupPairs": [{"GroupId": alb_group}],
                }
            ],
        )
    return alb_group, instance_group


def tagged_groups(ec2: ClientFactory, tags: Mapping[str, str]) -> list[str]:
    """Return the ids of the security groups carrying every tag given, the load balancer's group last.

    :param ec2: builds the EC2 client.
    :param tags: tag key -> value.
    """
    filters = [{"Name": f"tag:{key}", "Values": [value]} for key, value in tags.items()]
    with ec2_errors("listing security groups"):
        groups = ec2().describe_security_groups(Filters=filters)["SecurityGroups"]
    # The instances' group refers to the load balancer's, so it goes first.
    return [str(g["GroupId"]) for g in sorted(groups, key=lambda g: str(g["GroupName"]).endswith("-alb"))]


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
