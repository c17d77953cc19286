"""EC2 launch errors explained: whether a retry can help, and what to change when it cannot."""

from __future__ import annotations

from dataclasses import dataclass

from ml_lifecycle.core.ec2.launch import family_parts
from ml_lifecycle.core.errors import SpecError

# Errors a later attempt can get past without anyone changing anything.
RETRYABLE_CODES = frozenset(
    {
        "InsufficientInstanceCapacity",
        "InsufficientCapacity",
        "InsufficientHostCapacity",
        "Unavailable",
        "ServiceUnavailable",
        "RequestLimitExceeded",
        "Throttling",
        "ThrottlingException",
        "InternalError",
        "InternalFailure",
    }
)
AIRFLOW_ROLE_ACTIONS = (
    "ec2:RunInstances",
    "ec2:CreateTags",
    "iam:PassRole (on the instance profile's role)",
    "ec2:DescribeInstances",
    "ec2:TerminateInstances",
    "ec2:DescribeImages",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
    "ec2:CreateSecurityGroup",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:DeleteSecurityGroup",
    "ssm:GetParameter",
    "kms:CreateGrant and kms:GenerateDataKeyWithoutPlaintext (with a kms_key_id)",
)
# (series -> quota name, Service Quotas code or "") for On-Demand and Spot; codes only where we are sure of them.
_ON_DEMAND_QUOTAS = {
    "p": ("Running On-Demand P instances", "L-417A185B"),
    "g": ("Running On-Demand G and VT instances", "L-DB2E81BA"),
    "gr": ("Running On-Demand G and VT instances", "L-DB2E81BA"),
    "vt": ("Running On-Demand G and VT instances", "L-DB2E81BA"),
    "inf": ("Running On-Demand Inf instances", ""),
    "trn": ("Running On-Demand Trn instances", ""),
    "f": ("Running On-Demand F instances", ""),
    "dl": ("Running On-Demand DL instances", ""),
    "x": ("Running On-Demand X instances", ""),
}
_STANDARD_ON_DEMAND = ("Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances", "L-1216C47A")
_SPOT_QUOTAS = {
    "p": ("All P Spot Instance Requests", "L-7212CCBC"),
    "g": ("All G and VT Spot Instance Requests", "L-3819A6DF"),
    "gr": ("All G and VT Spot Instance Requests", "L-3819A6DF"),
    "vt": ("All G and VT Spot Instance Requests", "L-3819A6DF"),
    "inf": ("All Inf Spot Instance Requests", ""),
    "trn": ("All Trn Spot Instance Requests", ""),
    "f": ("All F Spot Instance Requests", ""),
    "dl": ("All DL Spot Instance Requests", ""),
    "x": ("All X Spot Instance Requests", ""),
}
_STANDARD_SPOT = ("All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests", "L-34B43A08")


@dataclass(frozen=True)
class LaunchProblem:
    """What a failed launch means for the operator.

    :param retryable: a later attempt with the same request can succeed (capacity, throttling, AWS-side faults).
    :param message: what went wrong and, when a retry cannot help, what to change.
    """

    retryable: bool
    message: str


_FROM_TEMPLATE = "(from the launch template)"
_NOT_FOUND = {
    "ami": (
        "AMI {ami_id} {ami_problem}. Set ami_id to an AMI of this region, or leave it unset for the ECS-optimized "
        "Amazon Linux 2023 AMI"
    ),
    "subnet": (
        "subnet {subnet_id} does not exist in this region or is malformed. Set subnet_id to a subnet of this region, "
        "or leave it unset for the default VPC"
    ),
    "profile": (
        "instance profile {instance_profile} is not known to EC2. Set instance_profile to an existing instance "
        "profile (not a role) name or ARN; one created seconds ago may need a minute to propagate"
    ),
    "template": (
        "the launch template (or its version) does not exist in this region. Set launch_template to an existing "
        "name or lt- id and launch_template_version to $Default, $Latest or an existing number"
    ),
}
_AMI_PROBLEMS = {
    "InvalidAMIID.NotFound": "does not exist in this region (AMIs are regional) or is not shared with the account",
    "InvalidAMIID.Malformed": "is not an AMI id",
    "InvalidAMIID.Unavailable": "is not available (deregistered, or still pending)",
}
_QUOTA = (
    "the account's {market} vCPU quota for {instance_type} in this region is used up. Request an increase of "
    "{quota}, {alternative}, or use another instance type or region"
)
# code -> the cause and fix; {names} are filled from the launch parameters.
_CAUSES = {
    "InstanceLimitExceeded": _QUOTA,
    "VcpuLimitExceeded": _QUOTA,
    "MaxSpotInstanceCountExceeded": _QUOTA,
    **dict.fromkeys(_AMI_PROBLEMS, _NOT_FOUND["ami"]),
    "InvalidSubnetID.NotFound": _NOT_FOUND["subnet"],
    "InvalidSubnetID.Malformed": _NOT_FOUND["subnet"],
    "InvalidSubnet": _NOT_FOUND["subnet"],
    "InvalidGroup.NotFound": (
        "a security group does not exist or is not in the subnet's VPC. Set security_group_ids to groups of that "
        "VPC, or leave them unset and a group is created for the job"
    ),
    "InvalidGroupId.Malformed": "a security group id is malformed. Set security_group_ids to sg- ids",
    "NoSuchEntity": _NOT_FOUND["profile"],
    **dict.fromkeys(
        ("UnauthorizedOperation", "AccessDenied", "AccessDeniedException"),
        "the AWS identity of the Airflow connection may not launch the instances. Grant it {actions}; decode an "
        "encoded failure message with 'aws sts decode-authorization-message'",
    ),
    "AuthFailure": "AWS rejected the credentials. Check the Airflow AWS connection (keys, session token, clock)",
    **dict.fromkeys(
        (
            "InvalidLaunchTemplateName.NotFoundException",
            "InvalidLaunchTemplateName.MalformedException",
            "InvalidLaunchTemplateId.NotFound",
            "InvalidLaunchTemplateId.Malformed",
            "InvalidLaunchTemplateId.VersionNotFound",
        ),
        _NOT_FOUND["template"],
    ),
    "Unsupported": (
        "{instance_type} is not offered in the availability zone of subnet {subnet_id} (or not with these options). "
        "Choose a subnet in another zone (see 'aws ec2 describe-instance-type-offerings --location-type "
        "availability-zone --filters Name=instance-type,Values={instance_type}') or another instance type"
    ),
    "InvalidPlacementGroup.Unknown": (
        "the placement group does not exist in this region. Create it first, or leave placement_group unset"
    ),
    "SpotMaxPriceTooLow": (
        "the Spot price is above the maximum price (set in the launch template). Raise or remove the maximum "
        "price, or launch without use_spot"
    ),
    "IdempotentParameterMismatch": (
        "an earlier launch used the same client token with different parameters. Start a fresh attempt (a new job name)"
    ),
    **dict.fromkeys(
        ("InvalidKMSKey.InvalidState", "KMS.NotFoundException"),
        "the KMS key for the root volume is missing, disabled or not usable by EC2. Set kms_key_id to an enabled "
        "key whose policy lets EC2 and the Airflow role use it, or leave it unset",
    ),
    "VolumeLimitExceeded": (
        "the account's EBS storage quota for this volume type is used up. Request an increase in Service Quotas "
        "(service ebs), or lower volume_size_gb"
    ),
    **dict.fromkeys(
        ("OptInRequired", "PendingVerification"),
        "the account is not subscribed to this region or service (an opt-in region, or a new account still being "
        "verified). Enable the region or wait for the account to be verified",
    ),
    "InsufficientFreeAddressesInSubnet": (
        "subnet {subnet_id} has too few free IP addresses. Use a larger subnet or free some addresses"
    ),
}


def _series(instance_type: str) -> str:
    """Return an instance type's series letters (``g4dn.xlarge`` -> g), or empty when it does not parse.

    :param instance_type: the instance type.
    """
    try:
        return family_parts(instance_type)[0]
    except SpecError:
        return ""


def _quota_text(quota: tuple[str, str]) -> str:
    """Name a quota with its code when known.

    :param quota: (name, Service Quotas code or "").
    """
    name, code = quota
    return f"'{name}'" + (f" (Service Quotas code {code}, service ec2)" if code else " (Service Quotas, service ec2)")


def _retryable_advice(code: str, instance_type: str) -> str:
    """Say why a retryable error is temporary, and what avoids waiting for it.

    :param code: the error code without a state reason prefix.
    :param instance_type: the instance type launched, or empty.
    """
    if code.startswith("Insufficient"):
        return (
            f"AWS has no spare capacity for {instance_type or 'this instance type'} in this availability zone "
            "right now; a later attempt can succeed (a subnet in another zone or another instance type avoids the wait)"
        )
    if code in ("RequestLimitExceeded", "Throttling", "ThrottlingException"):
        return "AWS throttled the API calls; after a pause a later attempt can succeed"
    return "a temporary fault on AWS's side; a later attempt can succeed"


def _invalid_parameter_cause(aws_message: str) -> str | None:
    """Return the cause of an InvalidParameterValue we can explain: the instance profile or the instance type.

    :param aws_message: AWS's message, which names the parameter.
    """
    lowered = aws_message.lower()
    if "iaminstanceprofile" in lowered or "instance profile" in lowered:
        return _NOT_FOUND["profile"]
    if "instancetype" in lowered or "instance type" in lowered:
        return "EC2 does not know instance type '{instance_type}' in this region. Pick a type EC2 offers here"
    return None


def explain_ec2_error(
    code: str,
    message: str,
    *,
    instance_type: str = "",
    subnet_id: str = "",
    ami_id: str = "",
    instance_profile: str = "",
) -> LaunchProblem:
    """Explain an EC2 error code (of run_instances, or an instance's state reason) for the task log.

    :param code: the AWS error code, e.g. ``InsufficientInstanceCapacity``; a state reason's ``Server.``/``Client.``
        prefix is ignored.
    :param message: AWS's message, kept in the explanation.
    :param instance_type: the instance type launched, named in quota and offering messages.
    :param subnet_id: the subnet used, or empty.
    :param ami_id: the AMI used, or empty.
    :param instance_profile: the instance profile used, or empty.
    """
    bare = code.removeprefix("Server.").removeprefix("Client.")
    aws = message.strip().rstrip(".")
    said = f"EC2 said {code}: {aws}" if aws else f"EC2 said {code}"
    if bare in RETRYABLE_CODES:
        return LaunchProblem(True, f"{said}. {_retryable_advice(bare, instance_type)}")
    cause = _invalid_parameter_cause(aws) if bare == "InvalidParameterValue" else _CAUSES.get(bare)
    if cause is None:
        return LaunchProblem(False, f"{said}. Retrying the same request will not help; fix the launch settings")
    spot = bare == "MaxSpotInstanceCountExceeded"
    series = _series(instance_type)
    names = {
        "instance_type": instance_type or "this instance type",
        "subnet_id": subnet_id or _FROM_TEMPLATE,
        "ami_id": ami_id or _FROM_TEMPLATE,
        "instance_profile": instance_profile or _FROM_TEMPLATE,
        "ami_problem": _AMI_PROBLEMS.get(bare, ""),
        "actions": ", ".join(AIRFLOW_ROLE_ACTIONS),
        "market": "Spot" if spot else "On-Demand",
        "quota": _quota_text(
            _SPOT_QUOTAS.get(series, _STANDARD_SPOT) if spot else _ON_DEMAND_QUOTAS.get(series, _STANDARD_ON_DEMAND)
        ),
        "alternative": "launch without use_spot" if spot else "terminate instances you no longer need",
    }
    return LaunchProblem(False, f"{said}. Cause: {cause.format(**names)}")
