"""EC2 launch errors: retryable only where waiting helps; every other one says what to change."""

from __future__ import annotations

import pytest

from ml_lifecycle.core.ec2.errors import LaunchProblem, explain_ec2_error

CONTEXT = {
    "instance_type": "ml.m5.large",
    "subnet_id": "subnet-12345678",
    "ami_id": "ami-12345678",
    "instance_profile": "ml-instance",
}


@pytest.mark.parametrize(
    "code",
    [
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
        "Server.InsufficientInstanceCapacity",
        "Server.InternalError",
    ],
)
def test_retryable(code: str) -> None:
    problem = explain_ec2_error(code, "try later.", **CONTEXT)
    assert problem.retryable is True
    assert problem.message.startswith(f"EC2 said {code}: try later. ")
    assert "later attempt can succeed" in problem.message


def test_capacity_names_the_type_and_the_way_around() -> None:
    message = explain_ec2_error("InsufficientInstanceCapacity", "none", instance_type="p4d.24xlarge").message
    assert "p4d.24xlarge" in message
    assert "another zone" in message


@pytest.mark.parametrize(
    ("code", "aws_message", "context", "fragments"),
    [
        pytest.param(
            "InstanceLimitExceeded",
            "You have requested more instances (21) than your current instance limit of 20 allows",
            {"instance_type": "ml.m5.large"},
            ["Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances", "L-1216C47A", "another instance type"],
            id="instance-limit-standard",
        ),
        pytest.param(
            "VcpuLimitExceeded",
            "You have requested more vCPU capacity than your current vCPU limit of 0 allows",
            {"instance_type": "ml.g5.xlarge"},
            ["Running On-Demand G and VT instances", "L-DB2E81BA", "ml.g5.xlarge", "region"],
            id="vcpu-limit-g",
        ),
        pytest.param(
            "VcpuLimitExceeded",
            "",
            {"instance_type": "p4d.24xlarge"},
            ["Running On-Demand P instances", "L-417A185B"],
            id="vcpu-limit-p",
        ),
        pytest.param(
            "VcpuLimitExceeded",
            "",
            {"instance_type": "trn1.2xlarge"},
            ["Running On-Demand Trn instances", "Service Quotas"],
            id="vcpu-limit-trn",
        ),
        pytest.param(
            "MaxSpotInstanceCountExceeded",
            "Max spot instance count exceeded",
            {"instance_type": "g4dn.xlarge"},
            ["All G and VT Spot Instance Requests", "L-3819A6DF", "without use_spot"],
            id="spot-limit-g",
        ),
        pytest.param(
            "MaxSpotInstanceCountExceeded",
            "",
            {"instance_type": "c5.large"},
            ["All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests", "L-34B43A08"],
            id="spot-limit-standard",
        ),
        pytest.param(
            "InvalidAMIID.NotFound",
            "The image id '[ami-12345678]' does not exist",
            {"ami_id": "ami-12345678"},
            ["ami-12345678", "does not exist in this region", "ami_id"],
            id="ami-not-found",
        ),
        pytest.param(
            "InvalidAMIID.Malformed",
            "Invalid id",
            {"ami_id": "ami-zz"},
            ["ami-zz", "not an AMI id"],
            id="ami-malformed",
        ),
        pytest.param(
            "InvalidAMIID.Unavailable", "", {"ami_id": "ami-12345678"}, ["deregistered"], id="ami-unavailable"
        ),
        pytest.param(
            "InvalidSubnetID.NotFound",
            "The subnet ID 'subnet-12345678' does not exist",
            {"subnet_id": "subnet-12345678"},
            ["subnet-12345678", "subnet_id"],
            id="subnet-not-found",
        ),
        pytest.param("InvalidSubnetID.Malformed", "", {}, ["subnet_id"], id="subnet-malformed"),
        pytest.param(
            "InvalidGroup.NotFound",
            "The security group 'sg-1' does not exist",
            {},
            ["security_group_ids", "VPC"],
            id="group",
        ),
        pytest.param(
            "InvalidParameterValue",
            "Value (nope) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name",
            {"instance_profile": "nope"},
            ["instance profile nope", "instance_profile", "propagate"],
            id="profile-invalid-parameter",
        ),
        pytest.param(
            "NoSuchEntity",
            "Instance profile nope not found",
            {"instance_profile": "nope"},
            ["instance profile nope", "not a role"],
            id="profile-moto",
        ),
        pytest.param(
            "InvalidParameterValue",
            "Invalid value 'm5.huge' for InstanceType.",
            {"instance_type": "m5.huge"},
            ["'m5.huge'", "instance type"],
            id="bad-instance-type",
        ),
        pytest.param(
            "UnauthorizedOperation",
            "You are not authorized to perform this operation. Encoded authorization failure message: xyz",
            {},
            ["ec2:RunInstances", "ec2:CreateTags", "iam:PassRole", "decode-authorization-message"],
            id="unauthorized",
        ),
        pytest.param("AccessDenied", "denied", {}, ["ec2:RunInstances", "iam:PassRole"], id="access-denied"),
        pytest.param("AuthFailure", "bad keys", {}, ["Airflow AWS connection"], id="auth-failure"),
        pytest.param(
            "InvalidLaunchTemplateName.NotFoundException",
            "The specified launch template, with template name ml, does not exist.",
            {},
            ["launch_template", "launch_template_version"],
            id="template-name",
        ),
        pytest.param("InvalidLaunchTemplateId.NotFound", "", {}, ["launch_template", "lt- id"], id="template-id"),
        pytest.param(
            "Unsupported",
            "Your requested instance type (p5.48xlarge) is not supported in your requested Availability Zone",
            {"instance_type": "p5.48xlarge", "subnet_id": "subnet-12345678"},
            ["p5.48xlarge", "subnet-12345678", "describe-instance-type-offerings", "another zone"],
            id="unsupported",
        ),
        pytest.param(
            "SpotMaxPriceTooLow", "Your Spot request price is lower", {}, ["maximum price", "use_spot"], id="spot-price"
        ),
        pytest.param("InvalidPlacementGroup.Unknown", "", {}, ["placement_group"], id="placement"),
        pytest.param("IdempotentParameterMismatch", "", {}, ["client token"], id="token"),
        pytest.param("Client.InvalidKMSKey.InvalidState", "", {}, ["kms_key_id"], id="kms-state-reason"),
        pytest.param("Client.VolumeLimitExceeded", "", {}, ["volume_size_gb"], id="ebs-quota-state-reason"),
        pytest.param("OptInRequired", "", {}, ["Enable the region"], id="opt-in"),
        pytest.param("InsufficientFreeAddressesInSubnet", "", {"subnet_id": "subnet-1"}, ["subnet-1"], id="ips"),
    ],
)
def test_not_retryable_with_a_fix(code: str, aws_message: str, context: dict[str, str], fragments: list[str]) -> None:
    problem = explain_ec2_error(code, aws_message, **context)
    assert problem.retryable is False
    assert problem.message.startswith(f"EC2 said {code}")
    assert aws_message.rstrip(".") in problem.message
    assert "Cause: " in problem.message
    for fragment in fragments:
        assert fragment in problem.message


@pytest.mark.parametrize(
    ("code", "aws_message"),
    [
        ("InvalidBlockDeviceMapping", "The device name /dev/xvda is invalid"),
        ("InvalidParameterCombination", "Network interfaces and an instance-level subnet ID may not be specified"),
        ("InvalidParameterValue", "Value (x) for parameter foo is invalid"),
        ("SomethingNew", "a brand-new error"),
    ],
)
def test_anything_else_is_not_retryable_and_keeps_aws_words(code: str, aws_message: str) -> None:
    problem = explain_ec2_error(code, aws_message)
    assert problem == LaunchProblem(
        False, f"EC2 said {code}: {aws_message}. Retrying the same request will not help; fix the launch settings"
    )


def test_empty_message_reads_cleanly() -> None:
    assert explain_ec2_error("Foo", "").message.startswith("EC2 said Foo. ")
