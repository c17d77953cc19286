"""The pure launch parts: instance types, AMI parameters, tags, deadlines and the run_instances request."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_lifecycle.core import labels
from ml_lifecycle.core.ec2 import launch as ec2_launch
from ml_lifecycle.core.ec2.launch import (
    AMI_PARAMETER,
    ARM64_AMI_PARAMETER,
    EC2_USER_DATA_LIMIT_BYTES,
    GPU_AMI_PARAMETER,
    NEURON_AMI_PARAMETER,
    ami_parameter_name,
    as_tag_list,
    deadline_minutes,
    ec2_instance_type,
    instance_tags,
    is_gpu_instance_type,
    run_instances_request,
    tag_specifications,
)
from ml_lifecycle.core.ec2.settings import Ec2Settings
from ml_lifecycle.core.naming import RunIdentity
from ml_lifecycle.errors import SpecError

AMI = "ami-0123456789abcdef0"
OWNER = RunIdentity("retrain", "train", "manual__2026-01-01T00:00:00+00:00", 3).labels()


@pytest.mark.parametrize(
    ("given_type", "expected"),
    [
        ("ml.m5.large", "m5.large"),
        ("m5.large", "m5.large"),
        ("ml.p4d.24xlarge", "p4d.24xlarge"),
        ("g4dn.xlarge", "g4dn.xlarge"),
        ("m7i-flex.large", "m7i-flex.large"),
        ("u-6tb1.metal", "u-6tb1.metal"),
        ("ml.trn1n.32xlarge", "trn1n.32xlarge"),
    ],
)
def test_ec2_instance_type(given_type: str, expected: str) -> None:
    assert ec2_instance_type(given_type) == expected


@pytest.mark.parametrize(
    "bad", ["", "m5", "ml.m5", "ml.ml.m5.large", "M5.large", "m5.large.x", "m5 .large", "local", ".large", "m5.", None]
)
def test_ec2_instance_type_rejects(bad: Any) -> None:
    with pytest.raises(SpecError, match=r"^instance_type: .*Write e\.g\. 'ml\.m5\.large'"):
        ec2_instance_type(bad)


@pytest.mark.parametrize(
    ("instance_type", "gpu", "parameter"),
    [
        ("ml.m5.large", False, AMI_PARAMETER),
        ("c5.xlarge", False, AMI_PARAMETER),
        ("m7i-flex.large", False, AMI_PARAMETER),
        ("u-6tb1.metal", False, AMI_PARAMETER),
        ("ml.p2.xlarge", True, GPU_AMI_PARAMETER),
        ("ml.p3.2xlarge", True, GPU_AMI_PARAMETER),
        ("p3dn.24xlarge", True, GPU_AMI_PARAMETER),
        ("p4d.24xlarge", True, GPU_AMI_PARAMETER),
        ("p5.48xlarge", True, GPU_AMI_PARAMETER),
        ("g3s.xlarge", True, GPU_AMI_PARAMETER),
        ("ml.g4dn.xlarge", True, GPU_AMI_PARAMETER),
        ("ml.g5.2xlarge", True, GPU_AMI_PARAMETER),
        ("g6e.xlarge", True, GPU_AMI_PARAMETER),
        ("gr6.4xlarge", True, GPU_AMI_PARAMETER),
        ("g4ad.xlarge", False, AMI_PARAMETER),  # AMD GPU: the NVIDIA AMI does not drive it
        ("g2.2xlarge", False, AMI_PARAMETER),  # retired generation, no driver in the AL2023 GPU AMI
        ("ml.inf2.xlarge", False, NEURON_AMI_PARAMETER),
        ("ml.trn1.2xlarge", False, NEURON_AMI_PARAMETER),
        ("m7g.large", False, ARM64_AMI_PARAMETER),
        ("ml.c6gn.xlarge", False, ARM64_AMI_PARAMETER),
        ("t4g.micro", False, ARM64_AMI_PARAMETER),
        ("a1.large", False, ARM64_AMI_PARAMETER),
        ("im4gn.large", False, ARM64_AMI_PARAMETER),
    ],
)
def test_gpu_and_ami_parameter(instance_type: str, gpu: bool, parameter: str) -> None:
    assert is_gpu_instance_type(instance_type) is gpu
    assert ami_parameter_name(instance_type) == parameter


def test_ami_parameter_of_an_arm_gpu_type_asks_for_an_ami() -> None:
    assert is_gpu_instance_type("g5g.xlarge")
    with pytest.raises(SpecError, match=r"arm64 GPU type.*ami_id"):
        ami_parameter_name("g5g.xlarge")


def test_ami_parameters_are_the_public_ecs_ones() -> None:
    assert AMI_PARAMETER == "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"
    assert GPU_AMI_PARAMETER == "/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id"


def test_instance_tags_carry_ownership_deadline_name_and_extra() -> None:
    tags = instance_tags("training", "job-1", OWNER, 1790000000, {"team": "ml"})
    assert tags == {
        labels.MANAGED: "true",
        labels.KIND: "training",
        labels.JOB: "job-1",
        "ml-lifecycle.dag-id": "retrain",
        "ml-lifecycle.task-id": "train",
        "ml-lifecycle.run-id": "manual__2026-01-01T00:00:00+00:00",
        "ml-lifecycle.map-index": "3",
        "ml-lifecycle.deadline": "1790000000",
        "Name": "job-1",
        "team": "ml",
    }


def test_instance_tags_let_extra_tags_rename_but_never_replace_ownership() -> None:
    tags = instance_tags("training", "job-1", OWNER, 5, {"Name": "nice", labels.JOB: "other", labels.MANAGED: "no"})
    assert tags["Name"] == "nice"
    assert tags[labels.JOB] == "job-1"
    assert tags[labels.MANAGED] == "true"


def test_instance_tags_truncate_long_owner_values() -> None:
    owner = RunIdentity("d" * 300, "t", "r" * 1000).labels()
    tags = instance_tags("training", "job-1", owner, 5, {})
    assert tags["ml-lifecycle.run-id"] == "r" * 256
    assert tags["ml-lifecycle.dag-id"] == "d" * 256
    assert all(len(value) <= 256 for value in tags.values())


@settings(deadline=None, max_examples=100)
@given(st.dictionaries(st.sampled_from(["ml-lifecycle.dag-id", "ml-lifecycle.run-id"]), st.text(max_size=600)))
def test_instance_tags_values_always_fit(owner: dict[str, str]) -> None:
    tags = instance_tags("training", "job", owner, 1, {})
    assert all(isinstance(value, str) and len(value) <= 256 for value in tags.values())
    assert {key: value[:256] for key, value in owner.items()}.items() <= tags.items()


def test_tag_list_and_specifications() -> None:
    tags = {"b": "2", "a": "1"}
    assert as_tag_list(tags) == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    specs = tag_specifications(tags)
    assert [spec["ResourceType"] for spec in specs] == ["instance", "volume", "network-interface"]
    assert all(spec["Tags"] == as_tag_list(tags) for spec in specs)
    assert tag_specifications(tags, ("security-group",)) == [
        {"ResourceType": "security-group", "Tags": as_tag_list(tags)}
    ]


@pytest.mark.parametrize(
    ("deadline", "now", "minutes"),
    [
        (1000.0, 1000.0, 1),
        (1000.0, 2000.0, 1),
        (1060.0, 1000.0, 1),
        (1061.0, 1000.0, 2),
        (1000.0 + 3600, 1000.0, 60),
        (1000.0 + 3600.5, 1000.0, 61),
    ],
)
def test_deadline_minutes(deadline: float, now: float, minutes: int) -> None:
    assert deadline_minutes(deadline, now) == minutes


def _request(settings: Ec2Settings, **overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "instance_type": "ml.m5.large",
        "count": 2,
        "user_data": "#!/bin/bash\necho hi\n",
        "tags": {"ml-lifecycle.job": "job-1", "Name": "job-1"},
        "ami_id": AMI,
        "security_group_ids": ["sg-12345678"],
        "use_spot": False,
        "client_token": "job-1-launch",
    }
    kwargs.update(overrides)
    return run_instances_request(settings, **kwargs)


def test_run_instances_request_defaults() -> None:
    request = _request(Ec2Settings())
    assert request == {
        "MinCount": 2,
        "MaxCount": 2,
        "ImageId": AMI,
        "InstanceType": "m5.large",
        "UserData": "#!/bin/bash\necho hi\n",
        "SecurityGroupIds": ["sg-12345678"],
        "MetadataOptions": {
            "HttpTokens": "required",
            "HttpPutResponseHopLimit": 2,
            "HttpEndpoint": "enabled",
            "InstanceMetadataTags": "disabled",
        },
        "InstanceInitiatedShutdownBehavior": "terminate",
        "BlockDeviceMappings": [
            {
                "DeviceName": "/dev/xvda",
                "Ebs": {"VolumeSize": 100, "VolumeType": "gp3", "Encrypted": True, "DeleteOnTermination": True},
            }
        ],
        "TagSpecifications": tag_specifications({"ml-lifecycle.job": "job-1", "Name": "job-1"}),
        "ClientToken": "job-1-launch",
    }


def test_run_instances_request_with_every_setting() -> None:
    settings = Ec2Settings(
        launch_template="lt-0123456789abcdef0",
        launch_template_version="4",
        subnet_id="subnet-12345678",
        instance_profile="arn:aws:iam::123456789012:instance-profile/ml",
        volume_size_gb=500,
        volume_type="io2",
        kms_key_id="alias/ml",
        placement_group="cluster-a",
    )
    request = _request(settings, use_spot=True, root_device_name="/dev/sda1")
    assert request["LaunchTemplate"] == {"LaunchTemplateId": "lt-0123456789abcdef0", "Version": "4"}
    assert request["SubnetId"] == "subnet-12345678"
    assert request["IamInstanceProfile"] == {"Arn": "arn:aws:iam::123456789012:instance-profile/ml"}
    assert request["BlockDeviceMappings"] == [
        {
            "DeviceName": "/dev/sda1",
            "Ebs": {
                "VolumeSize": 500,
                "VolumeType": "io2",
                "Encrypted": True,
                "DeleteOnTermination": True,
                "KmsKeyId": "alias/ml",
            },
        }
    ]
    assert request["Placement"] == {"GroupName": "cluster-a"}
    assert request["InstanceMarketOptions"] == {
        "MarketType": "spot",
        "SpotOptions": {"SpotInstanceType": "one-time", "InstanceInterruptionBehavior": "terminate"},
    }


def test_run_instances_request_template_name_and_profile_name_without_ami() -> None:
    settings = Ec2Settings(launch_template="ml-workers", instance_profile="ml-instance")
    request = _request(settings, ami_id=None, security_group_ids=[])
    assert "ImageId" not in request
    assert "SecurityGroupIds" not in request
    assert request["LaunchTemplate"] == {"LaunchTemplateName": "ml-workers", "Version": "$Default"}
    assert request["IamInstanceProfile"] == {"Name": "ml-instance"}


def test_run_instances_request_falls_back_to_settings_ami_and_groups() -> None:
    settings = Ec2Settings(ami_id="ami-12345678", security_group_ids=("sg-87654321",))
    request = _request(settings, ami_id=None, security_group_ids=())
    assert request["ImageId"] == "ami-12345678"
    assert request["SecurityGroupIds"] == ["sg-87654321"]


def test_run_instances_request_needs_an_ami_without_a_template() -> None:
    with pytest.raises(SpecError, match=r"^ami_id: no AMI is known"):
        _request(Ec2Settings(), ami_id=None)


@pytest.mark.parametrize(
    ("overrides", "parameter"),
    [
        pytest.param({"count": 0}, "instance_count", id="count-zero"),
        pytest.param({"count": 101}, "instance_count", id="count-big"),
        pytest.param({"client_token": ""}, "client_token", id="token-empty"),
        pytest.param({"client_token": "x" * 65}, "client_token", id="token-long"),
        pytest.param({"client_token": "jöb"}, "client_token", id="token-unicode"),
        pytest.param({"instance_type": "big"}, "instance_type", id="type"),
        pytest.param({"user_data": "x" * (EC2_USER_DATA_LIMIT_BYTES + 1)}, "user_data", id="user-data-size"),
        pytest.param({"user_data": "é" * (EC2_USER_DATA_LIMIT_BYTES // 2 + 1)}, "user_data", id="user-data-bytes"),
    ],
)
def test_run_instances_request_rejects(overrides: dict[str, Any], parameter: str) -> None:
    with pytest.raises(SpecError) as info:
        _request(Ec2Settings(), **overrides)
    assert info.value.parameter == parameter


def test_user_data_limit_is_exactly_ec2s() -> None:
    assert EC2_USER_DATA_LIMIT_BYTES == 16384
    assert _request(Ec2Settings(), user_data="x" * EC2_USER_DATA_LIMIT_BYTES)["UserData"]


def test_run_instances_request_is_accepted_by_botocore() -> None:
    """botocore's own validator checks every parameter name, type and nesting (no call leaves the process)."""
    import botocore.session
    from botocore.validate import ParamValidator

    settings = Ec2Settings(
        launch_template="ml-workers",
        subnet_id="subnet-12345678",
        instance_profile="ml-instance",
        kms_key_id="alias/ml",
        placement_group="pg",
    )
    request = _request(settings, use_spot=True)
    model = botocore.session.get_session().get_service_model("ec2").operation_model("RunInstances").input_shape
    report = ParamValidator().validate(request, model)
    assert not report.has_errors(), report.generate_report()
    assert ec2_launch.TAGGED_RESOURCE_TYPES == ("instance", "volume", "network-interface")
