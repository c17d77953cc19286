"""Launching, finding and ending a job's instances through boto3, against moto in server mode."""

from __future__ import annotations

import time
import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from ml_lifecycle.compute.ec2.security_group import create_job_security_group, delete_job_security_groups
from ml_lifecycle.core.ec2.launch import GPU_AMI_PARAMETER, instance_tags, run_instances_request
from ml_lifecycle.core.ec2.settings import Ec2Settings
from ml_lifecycle.errors import ComputeError

OWNER = {
    "ml-lifecycle.dag-id": "d",
    "ml-lifecycle.task-id": "t",
    "ml-lifecycle.run-id": "r",
    "ml-lifecycle.map-index": "-1",
}


def _launch(
    aws: SimpleNamespace, settings: Ec2Settings, job: str, *, count: int = 1, deadline_s: int = 0, **extra: Any
):
    """Launch a job's instances the way the training backend does.

    :param aws: the moto clients and fleet.
    :param settings: the launch settings.
    :param job: the job name.
    :param count: how many instances.
    :param deadline_s: the deadline tag; default an hour from now.
    :param extra: overrides of run_instances_request's arguments.
    """
    ami = aws.fleet.resolve_ami(settings, "ml.m5.large")
    aws.fleet.preflight(settings, ami)
    tags = instance_tags(
        "training", job, {**OWNER, **extra.pop("owner", {})}, deadline_s or int(time.time()) + 3600, {}
    )
    arguments = {
        "instance_type": "ml.m5.large",
        "count": count,
        "user_data": "#!/bin/bash\necho hello\n",
        "tags": tags,
        "ami_id": ami,
        "security_group_ids": [],
        "use_spot": False,
        "client_token": f"{job}-1",
        **extra,
    }
    return aws.fleet.launch(run_instances_request(settings, **arguments))


def _job() -> str:
    """Return a fresh job name."""
    return f"job-{uuid.uuid4().hex[:8]}"


def test_instances_launch_with_imdsv2_terminate_on_shutdown_and_our_tags(aws):
    aws.iam.create_instance_profile(InstanceProfileName="trainer")
    job = _job()
    settings = Ec2Settings.build({"instance_profile": "trainer", "volume_size_gb": "64"})
    launched = _launch(aws, settings, job, count=2, use_spot=True)

    found = aws.fleet.instances(job)
    assert sorted(i["InstanceId"] for i in found) == sorted(i["InstanceId"] for i in launched)
    for instance in found:
        assert instance["MetadataOptions"]["HttpTokens"] == "required"
        assert instance["MetadataOptions"]["HttpPutResponseHopLimit"] == 2
        assert instance["InstanceType"] == "m5.large"
        assert instance["InstanceLifecycle"] == "spot"
        tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
        assert tags["ml-lifecycle.job"] == job and tags["ml-lifecycle.run-id"] == "r" and tags["Name"] == job
        assert int(tags["ml-lifecycle.deadline"]) > time.time()
        attribute = aws.ec2.describe_instance_attribute(
            InstanceId=instance["InstanceId"], Attribute="instanceInitiatedShutdownBehavior"
        )
        assert attribute["InstanceInitiatedShutdownBehavior"]["Value"] == "terminate"
    ami = aws.ssm.get_parameter(Name="/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id")
    assert {i["ImageId"] for i in found} == {ami["Parameter"]["Value"]}

    aws.fleet.terminate([i["InstanceId"] for i in found])
    aws.fleet.wait_terminated([i["InstanceId"] for i in found], timeout_s=60)
    assert aws.fleet.instances(job) == []


def test_a_gpu_instance_type_gets_the_gpu_ami(aws):
    expected = aws.ssm.get_parameter(Name=GPU_AMI_PARAMETER)["Parameter"]["Value"]
    assert aws.fleet.resolve_ami(Ec2Settings(), "ml.g5.xlarge") == expected


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"ami_id": "ami-0123456789abcdef0"}, "ami-0123456789abcdef0"),
        ({"subnet_id": "subnet-0123456789abcdef0"}, "subnet-0123456789abcdef0"),
        ({"security_group_ids": ["sg-0123456789abcdef0"]}, "sg-0123456789abcdef0"),
        ({"instance_profile": "no-such-profile"}, "no-such-profile"),
        ({"launch_template": "no-such-template"}, "no-such-template"),
    ],
)
def test_bad_launch_settings_fail_before_anything_is_launched(aws, settings, expected):
    job = _job()
    with pytest.raises(ComputeError, match=expected) as info:
        _launch(aws, Ec2Settings.build(settings), job)
    assert info.value.retryable is False
    assert aws.fleet.instances(job) == []


def test_a_launch_template_supplies_the_ami_and_our_settings_still_apply(aws):
    image = aws.ec2.describe_images()["Images"][0]["ImageId"]
    name = f"lt-{uuid.uuid4().hex[:6]}"
    aws.ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData={"ImageId": image})
    job = _job()
    _launch(aws, Ec2Settings.build({"launch_template": name}), job)
    (instance,) = aws.fleet.instances(job)
    assert instance["ImageId"] == image
    assert instance["MetadataOptions"]["HttpTokens"] == "required"


def test_the_job_security_group_admits_only_its_own_members_and_is_deleted(aws):
    job = _job()
    vpc = aws.fleet.vpc_of(Ec2Settings())
    group = create_job_security_group(
        aws.fleet.ec2, job, vpc, {"ml-lifecycle.job": job, "ml-lifecycle.managed": "true"}
    )
    (described,) = aws.ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"]
    assert [p["UserIdGroupPairs"][0]["GroupId"] for p in described["IpPermissions"]] == [group]
    assert all(not p.get("IpRanges") for p in described["IpPermissions"])
    assert delete_job_security_groups(aws.fleet.ec2, job) == 1
    assert (
        aws.ec2.describe_security_groups(Filters=[{"Name": "tag:ml-lifecycle.job", "Values": [job]}])["SecurityGroups"]
        == []
    )
