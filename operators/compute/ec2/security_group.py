"""A job's own security group: instances of the job reach each other, nothing else reaches them."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from ml_lifecycle.compute.ec2.fleet import ClientFactory, ec2_errors
from ml_lifecycle.core import labels
from ml_lifecycle.core.ec2.launch import as_tag_list

log = logging.getLogger(__name__)

DELETE_ATTEMPTS = 10
DELETE_RETRY_S = 5.0


def create_job_security_group(ec2: ClientFactory, job_name: str, vpc_id: str, tags: Mapping[str, str]) -> str:
    """Create the job's group (ingress only from members of the same group; egress as EC2's default) and return its id.

    :param ec2: builds the EC2 client.
    :param job_name: the job's name (the group is named ``mlc-<job>``).
    :param vpc_id: the VPC of the instances.
    :param tags: the job's tags.
    """
    client = ec2()
    with ec2_errors("creating the job's security group"):
        group_id = str(
            client.create_security_group(
                GroupName=f"mlc-{job_name}",
                Description=f"ml-lifecycle job {job_name}: traffic between the job's instances only",
                VpcId=vpc_id,
                TagSpecifications=[{"ResourceType": "security-group", "Tags": as_tag_list(tags)}],
            )["GroupId"]
        )
        client.authorize_security_group_ingress(
            GroupId=group_id, IpPermissions=[{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": group_id}]}]
        )
    return group_id


def job_security_groups(ec2: ClientFactory, job_name: str) -> list[str]:
    """Return the ids of the security groups tagged with the job.

    :param ec2: builds the EC2 client.
    :param job_name: the job's name.
    """
    with ec2_errors("listing the job's security groups"):
        groups = ec2().describe_security_groups(Filters=[{"Name": f"tag:{labels.JOB}", "Values": [job_name]}])
    return [str(g["GroupId"]) for g in groups["SecurityGroups"]]


def delete_job_security_groups(ec2: ClientFactory, job_name: str) -> int:
    """Delete the job's security groups once no instance uses them (retried while EC2 reports them in use).

    :param ec2: builds the EC2 client.
    :param job_name: the job's name.
    """
    return sum(delete_security_group(ec2, group_id, DELETE_ATTEMPTS) for group_id in job_security_groups(ec2, job_name))


def delete_security_group(ec2: ClientFactory, group_id: str, attempts: int, retry_s: float = DELETE_RETRY_S) -> bool:
    """Delete a security group, retrying while EC2 says it is in use; return False when it was gone already.

    :param ec2: builds the EC2 client.
    :param group_id: the group.
    :param attempts: how many times to try before the DependencyViolation is raised.
    :param retry_s: seconds between tries.
    """
    from botocore.exceptions import ClientError

    for attempt in range(1, attempts + 1):
        try:
            ec2().delete_security_group(GroupId=group_id)
            return True
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            if code == "InvalidGroup.NotFound":
                return False
            if code != "DependencyViolation" or attempt == attempts:
                raise
            time.sleep(retry_s)
    return False
