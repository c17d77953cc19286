"""role_arn on EC2: the instances get an instance profile holding the role, found in IAM (moto); an explicit
instance_profile that holds another role is kept and the task log says so; a role in no profile is refused saying how
to make one. moto checks no IAM permission (iam:ListInstanceProfilesForRole, iam:PassRole): not tested here."""

from __future__ import annotations

import json
import uuid

import pytest

from ml_lifecycle.compute.ec2.role_profile import settings_for_role
from ml_lifecycle.core.ec2.settings import Ec2Settings
from ml_lifecycle.core.errors import SpecError

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
)


def _role(iam, profiles: int) -> str:
    """Create a role in that many instance profiles; return its ARN.

    :param iam: the moto IAM client.
    :param profiles: how many profiles hold it.
    """
    name = f"ml-{uuid.uuid4().hex[:8]}"
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST, Path="/service-role/")["Role"]["Arn"]
    for index in range(profiles):
        iam.create_instance_profile(InstanceProfileName=f"{name}-p{index}")
        iam.add_role_to_instance_profile(InstanceProfileName=f"{name}-p{index}", RoleName=name)
    return arn


def test_the_instances_get_a_profile_holding_the_role(aws):
    arn = _role(aws.iam, profiles=2)
    lines: list[str] = []
    settings = settings_for_role(aws.iam, Ec2Settings(), arn, lines.append)
    name = arn.rsplit("/", 1)[-1]
    assert settings.instance_profile == f"{name}-p0"
    assert lines == [f"The instances run with instance profile {name}-p0, which holds {arn}"]


def test_an_explicit_profile_of_another_role_is_kept_and_the_log_says_which_runs(aws):
    arn, other = _role(aws.iam, profiles=1), _role(aws.iam, profiles=1)
    other_profile = f"{other.rsplit('/', 1)[-1]}-p0"
    lines: list[str] = []
    settings = settings_for_role(aws.iam, Ec2Settings(instance_profile=other_profile), arn, lines.append)
    assert settings.instance_profile == other_profile
    (line,) = lines
    assert line.startswith(f"WARNING: ec2_settings instance_profile {other_profile} does not hold role_arn's role")
    assert f"the instances run with {other_profile}" in line


def test_an_explicit_profile_of_the_same_role_is_kept_quietly(aws):
    arn = _role(aws.iam, profiles=1)
    lines: list[str] = []
    profile = f"{arn.rsplit('/', 1)[-1]}-p0"
    assert (
        settings_for_role(aws.iam, Ec2Settings(instance_profile=profile), arn, lines.append).instance_profile == profile
    )
    assert lines == []


def test_a_role_in_no_profile_is_refused_saying_how_to_make_one(aws):
    arn = _role(aws.iam, profiles=0)
    with pytest.raises(SpecError, match=r"is in no instance profile.*aws iam create-instance-profile"):
        settings_for_role(aws.iam, Ec2Settings(), arn, print)


def test_a_role_that_does_not_exist_is_refused(aws):
    with pytest.raises(
        SpecError, match=r"role_arn: the instance profiles of role nowhere could not be listed \(NoSuchEntity"
    ):
        settings_for_role(aws.iam, Ec2Settings(), "arn:aws:iam::123456789012:role/nowhere", print)


def test_no_role_changes_nothing(aws):
    settings = Ec2Settings(instance_profile="given")
    assert settings_for_role(aws.iam, settings, None, print) is settings
