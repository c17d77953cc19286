"""The instances of one job on EC2: check the launch settings, launch, find by tags, terminate."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from ml_lifecycle.core import labels
from ml_lifecycle.core.ec2.errors import explain_ec2_error
from ml_lifecycle.core.ec2.launch import ROOT_DEVICE_NAME, ami_parameter_name
from ml_lifecycle.core.ec2.settings import Ec2Settings
from ml_lifecycle.errors import ComputeError

log = logging.getLogger(__name__)

ALIVE_STATES = ("pending", "running", "stopping", "stopped", "shutting-down")
LAUNCH_ATTEMPTS = 5
LAUNCH_BACKOFF_S = 2.0
TERMINATE_WAIT_S = 600.0
POLL_S = 2.0

ClientFactory = Callable[[], Any]


@contextmanager
def ec2_errors(what: str, **context: str) -> Iterator[None]:
    """Translate a botocore ClientError raised inside the block into a ComputeError that says what to fix.

    :param what: the action, for the message (``launching instances``).
    :param context: instance_type, subnet_id, ami_id, instance_profile, passed to the explanation.
    """
    from botocore.exceptions import ClientError

    try:
        yield
    except ClientError as err:
        error = err.response.get("Error", {})
        problem = explain_ec2_error(str(error.get("Code", "")), str(error.get("Message", "")), **context)
        raise ComputeError(f"EC2 refused {what}: {problem.message}", retryable=problem.retryable) from err


class Ec2Fleet:
    """Launches and finds a job's instances through boto3 clients built from the Airflow AWS connection."""

    def __init__(self, ec2: ClientFactory, ssm: ClientFactory, iam: ClientFactory) -> None:
        """Hold the client factories (each builds its client once, when first used).

        :param ec2: builds the EC2 client.
        :param ssm: builds the SSM client (for the public AMI parameter).
        :param iam: builds the IAM client (to check the instance profile).
        """
        self.ec2 = ec2
        self.ssm = ssm
        self.iam = iam

    def resolve_ami(self, settings: Ec2Settings, instance_type: str) -> str | None:
        """Return the AMI to launch: the one given, None when a launch template names it, else the ECS-optimized AL2023.

        :param settings: the launch settings.
        :param instance_type: the instance type (a GPU type gets the GPU variant of the AMI).
        """
        if settings.ami_id:
            return settings.ami_id
        if settings.launch_template:
            return None
        name = ami_parameter_name(instance_type)
        with ec2_errors(f"reading the public SSM parameter {name}"):
            return str(self.ssm().get_parameter(Name=name)["Parameter"]["Value"])

    def preflight(self, settings: Ec2Settings, ami_id: str | None) -> None:
        """Check that the AMI, subnet, security groups and instance profile exist, before anything is paid for.

        :param settings: the launch settings.
        :param ami_id: the AMI that will be launched, or None when the launch template names it.
        """
        client = self.ec2()
        if ami_id:
            with ec2_errors(f"the AMI {ami_id}", ami_id=ami_id):
                if not client.describe_images(ImageIds=[ami_id])["Images"]:
                    raise ComputeError(f"AMI {ami_id} does not exist in this region. Give an ami_id that does")
        if settings.subnet_id:
            with ec2_errors(f"the subnet {settings.subnet_id}", subnet_id=settings.subnet_id):
                client.describe_subnets(SubnetIds=[settings.subnet_id])
        if settings.security_group_ids:
            with ec2_errors(f"the security groups {', '.join(settings.security_group_ids)}"):
                client.describe_security_groups(GroupIds=list(settings.security_group_ids))
        if settings.launch_template:
            with ec2_errors(f"the launch template {settings.launch_template}"):
                client.describe_launch_templates(**_template_selector(settings.launch_template))
        if settings.instance_profile:
            name = settings.instance_profile.rsplit("/", 1)[-1]
            with ec2_errors(f"the instance profile {name}", instance_profile=settings.instance_profile):
                self.iam().get_instance_profile(InstanceProfileName=name)

    def root_device(self, ami_id: str | None) -> str:
        """Return the AMI's root device name (so the volume size applies to the root, not to a second disk).

        :param ami_id: the AMI, or None when a launch template names it (Amazon Linux's ``/dev/xvda`` is assumed).
        """
        if not ami_id:
            return ROOT_DEVICE_NAME
        with ec2_errors(f"the AMI {ami_id}", ami_id=ami_id):
            images = self.ec2().describe_images(ImageIds=[ami_id])["Images"]
        return str(images[0].get("RootDeviceName") or ROOT_DEVICE_NAME) if images else ROOT_DEVICE_NAME

    def vpc_of(self, settings: Ec2Settings) -> str:
        """Return the VPC the instances will live in: the subnet's, else the default VPC.

        :param settings: the launch settings.
        """
        client = self.ec2()
        if settings.subnet_id:
            with ec2_errors("the subnet", subnet_id=settings.subnet_id):
                return str(client.describe_subnets(SubnetIds=[settings.subnet_id])["Subnets"][0]["VpcId"])
        with ec2_errors("looking up the default VPC"):
            vpcs = client.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
        if not vpcs:
            raise ComputeError("This region has no default VPC. Give ec2_settings={'subnet_id': 'subnet-...'}")
        return str(vpcs[0]["VpcId"])

    def launch(self, request: Mapping[str, Any], sink: Callable[[str], None] = log.info) -> list[dict[str, Any]]:
        """Run the instances; capacity and throttling errors are retried with backoff, the rest raise at once.

        :param request: the run_instances arguments (with a ClientToken, so a retried call launches nothing twice).
        :param sink: receives progress lines.
        """
        context = {
            "instance_type": str(request.get("InstanceType", "")),
            "subnet_id": str(request.get("SubnetId", "")),
            "ami_id": str(request.get("ImageId", "")),
            "instance_profile": str(dict(request.get("IamInstanceProfile") or {}).get("Name", "")),
        }
        for attempt in range(1, LAUNCH_ATTEMPTS + 1):
            try:
                with ec2_errors("launching instances", **context):
                    return list(self.ec2().run_instances(**request)["Instances"])
            except ComputeError as err:
                if not err.retryable or attempt == LAUNCH_ATTEMPTS:
                    raise
                wait_s = LAUNCH_BACKOFF_S * 2 ** (attempt - 1)
                sink(f"{err} - trying again in {wait_s:.0f} s (attempt {attempt + 1} of {LAUNCH_ATTEMPTS})")
                time.sleep(wait_s)
        raise AssertionError("unreachable")

    def instances(self, job_name: str, states: tuple[str, ...] = ALIVE_STATES) -> list[dict[str, Any]]:
        """Return the job's instances (found by its tag) in the given states.

        :param job_name: the job's name.
        :param states: the instance states to include.
        """
        return self.find({labels.JOB: job_name}, states)

    def find(self, tags: Mapping[str, str], states: tuple[str, ...] = ALIVE_STATES) -> list[dict[str, Any]]:
        """Return the instances carrying every tag given, in the given states.

        :param tags: tag key -> value.
        :param states: the instance states to include.
        """
        filters = [{"Name": f"tag:{key}", "Values": [value]} for key, value in tags.items()]
        filters.append({"Name": "instance-state-name", "Values": list(states)})
        found: list[dict[str, Any]] = []
        with ec2_errors("listing instances"):
            for page in self.ec2().get_paginator("describe_instances").paginate(Filters=filters):
                for reservation in page["Reservations"]:
                    found.extend(reservation["Instances"])
        return found

    def terminate(self, instance_ids: list[str]) -> None:
        """Terminate instances (an id that is already gone is not an error).

        :param instance_ids: the instances.
        """
        if not instance_ids:
            return
        with ec2_errors("terminating instances"):
            self.ec2().terminate_instances(InstanceIds=instance_ids)

    def wait_terminated(self, instance_ids: list[str], timeout_s: float = TERMINATE_WAIT_S) -> None:
        """Wait until the instances are terminated, polling.

        :param instance_ids: the instances.
        :param timeout_s: how long to wait before raising.
        """
        deadline_s = time.monotonic() + timeout_s
        pending = set(instance_ids)
        while pending:
            with ec2_errors("describing instances"):
                pages = self.ec2().get_paginator("describe_instances").paginate(InstanceIds=sorted(pending))
                states = {
                    i["InstanceId"]: i["State"]["Name"]
                    for p in pages
                    for r in p["Reservations"]
                    for i in r["Instances"]
                }
            pending = {i for i in pending if states.get(i, "terminated") != "terminated"}
            if not pending:
                return
            if time.monotonic() > deadline_s:
                raise ComputeError(f"Instances {sorted(pending)} were not terminated within {timeout_s:.0f} s")
            time.sleep(POLL_S)


def _template_selector(template: str) -> dict[str, list[str]]:
    """Return the describe_launch_templates argument for a launch template name or id.

    :param template: ``lt-...`` or a name.
    """
    if template.startswith("lt-"):
        return {"LaunchTemplateIds": [template]}
    return {"LaunchTemplateNames": [template]}
