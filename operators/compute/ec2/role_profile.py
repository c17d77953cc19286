"""The execution role on EC2: the instances run with an instance profile holding it, found from role_arn."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from ml_lifecycle.core.ec2.settings import Ec2Settings
from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.roles import role_name


def settings_for_role(
    iam: Any, settings: Ec2Settings, role_arn: str | None, sink: Callable[[str], None]
) -> Ec2Settings:
    """Return the launch settings with an instance profile of role_arn; say which one when instance_profile differs.

    :param iam: an IAM client.
    :param settings: the launch settings (instance_profile, when given, is kept).
    :param role_arn: the execution role, or None.
    :param sink: the task log.
    """
    if not role_arn:
        return settings
    name = role_name(role_arn)
    try:
        iam.get_role(RoleName=name)  # a missing role is NoSuchEntity here, not an empty listing
        profiles = sorted(p["InstanceProfileName"] for p in _profiles_of(iam, name))
    except Exception as err:  # NoSuchEntity, AccessDenied
        raise SpecError(
            "role_arn",
            f"the instance profiles of role {name} could not be listed ({type(err).__name__}: {err})",
            "Check the role exists and allow iam:GetRole and iam:ListInstanceProfilesForRole, or pass ec2_settings "
            "instance_profile",
        ) from None
    if settings.instance_profile:
        given = settings.instance_profile.rsplit("/", 1)[-1]
        if given not in profiles:
            sink(
                f"WARNING: ec2_settings instance_profile {given} does not hold role_arn's role {name} (it is in "
                f"{', '.join(profiles) or 'no instance profile'}): the instances run with {given}, as ec2_settings says"
            )
        return settings
    if not profiles:
        raise SpecError(
            "role_arn",
            f"role {name} is in no instance profile, and EC2 instances take a role only through one",
            f"Create one (aws iam create-instance-profile --instance-profile-name {name}; aws iam "
            f"add-role-to-instance-profile --instance-profile-name {name} --role-name {name}), or pass ec2_settings "
            "instance_profile",
        )
    sink(f"The instances run with instance profile {profiles[0]}, which holds {role_arn}")
    return dataclasses.replace(settings, instance_profile=profiles[0])


def _profiles_of(iam: Any, name: str) -> list[dict[str, Any]]:
    """List every instance profile holding a role (all pages).

    :param iam: an IAM client.
    :param name: the role's name.
    """
    pages = iam.get_paginator("list_instance_profiles_for_role").paginate(RoleName=name)
    return [profile for page in pages for profile in page["InstanceProfiles"]]
