"""The pure parts of launching EC2 instances: instance types, AMI parameters, tags and the run_instances request."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ml_lifecycle.core import checks, labels
from ml_lifecycle.core.checks import ec2_instance_type as ec2_instance_type  # defined there for DAG parse time
from ml_lifecycle.core.ec2.settings import (
    MAX_TAG_VALUE_CHARS,
    Ec2Settings,
    is_instance_profile_arn,
    is_launch_template_id,
)
from ml_lifecycle.core.errors import SpecError

EC2_USER_DATA_LIMIT_BYTES = 16384
DEADLINE_TAG = "ml-lifecycle.deadline"
NAME_TAG = "Name"
ROOT_DEVICE_NAME = "/dev/xvda"  # Amazon Linux 2023's root device; a bigger root volume, not a second disk
TAGGED_RESOURCE_TYPES = ("instance", "volume", "network-interface")
MAX_CLIENT_TOKEN_CHARS = 64

_AMI_PARAMETER_ROOT = "/aws/service/ecs/optimized-ami/amazon-linux-2023"
AMI_PARAMETER = f"{_AMI_PARAMETER_ROOT}/recommended/image_id"
GPU_AMI_PARAMETER = f"{_AMI_PARAMETER_ROOT}/gpu/recommended/image_id"
ARM64_AMI_PARAMETER = f"{_AMI_PARAMETER_ROOT}/arm64/recommended/image_id"
NEURON_AMI_PARAMETER = f"{_AMI_PARAMETER_ROOT}/neuron/recommended/image_id"

# family = series letters, generation digits, attribute letters; "g" among the attributes means Graviton (arm64).
_FAMILY = re.compile(r"^(?P<series>[a-z]+)(?P<generation>[0-9]+)(?P<attributes>[a-z]*)")


def family_parts(instance_type: str) -> tuple[str, int, str]:
    """Split an instance type's family into series, generation and attributes (``g4dn.xlarge`` -> g, 4, dn).

    :param instance_type: a SageMaker or EC2 instance type.
    """
    family = ec2_instance_type(instance_type).split(".", 1)[0].split("-", 1)[0]
    match = _FAMILY.match(family)
    if match is None:  # e.g. "u-6tb1": no generation digits in the first part
        return family, 0, ""
    return match["series"], int(match["generation"]), match["attributes"]


def is_arm_instance_type(instance_type: str) -> bool:
    """Say whether an instance type runs on AWS Graviton (arm64): ``a1`` and families with a ``g`` attribute.

    :param instance_type: e.g. ``m7g.large`` (arm64) or ``m5.large`` (x86_64).
    """
    series, generation, attributes = family_parts(instance_type)
    return (series, generation) == ("a", 1) or "g" in attributes


def is_gpu_instance_type(instance_type: str) -> bool:
    """Say whether an instance type has NVIDIA GPUs, so it needs the GPU AMI (P2-P6, G3-G6 and Gr6).

    Inferentia and Trainium (inf, trn) are not GPUs; neither is g4ad, whose AMD GPU the NVIDIA AMI does not drive.

    :param instance_type: e.g. ``ml.g5.xlarge``.
    """
    series, generation, attributes = family_parts(instance_type)
    if series == "p":
        return 2 <= generation <= 6
    if series in ("g", "gr"):
        return 3 <= generation <= 6 and "a" not in attributes
    return False


def is_neuron_instance_type(instance_type: str) -> bool:
    """Say whether an instance type has AWS Inferentia or Trainium chips (needs the Neuron AMI).

    :param instance_type: e.g. ``trn1.2xlarge``.
    """
    return family_parts(instance_type)[0] in ("inf", "trn")


def ami_parameter_name(instance_type: str) -> str:
    """Return the SSM public parameter holding the ECS-optimized Amazon Linux 2023 AMI for an instance type.

    :param instance_type: the job's instance type; GPU, Neuron and arm64 types get their own AMI.
    """
    if is_gpu_instance_type(instance_type):
        if is_arm_instance_type(instance_type):
            raise SpecError(
                "instance_type",
                f"{instance_type!r} is an arm64 GPU type with no ECS-optimized Amazon Linux 2023 GPU AMI",
                "Pass ec2 settings with ami_id (an arm64 AMI with NVIDIA drivers) or use an x86_64 GPU type",
            )
        return GPU_AMI_PARAMETER
    if is_neuron_instance_type(instance_type):
        return NEURON_AMI_PARAMETER
    if is_arm_instance_type(instance_type):
        return ARM64_AMI_PARAMETER
    return AMI_PARAMETER


def _tag_value(value: Any) -> str:
    """Return a value as an EC2 tag value: a string of at most 256 characters.

    :param value: any value; longer text is cut (the full owner identity is in the job document).
    """
    return str(value)[:MAX_TAG_VALUE_CHARS]


def instance_tags(
    kind: str,
    job_name: str,
    owner: Mapping[str, str],
    deadline_epoch_s: int,
    extra_tags: Mapping[str, str],
) -> dict[str, str]:
    """Return the tags of a job's instances, volumes and network interfaces.

    The ownership tags are the container labels (managed, kind, job, the Airflow identity) plus the deadline;
    extra tags come first so they cannot replace an ownership tag, though they may rename (``Name``).

    :param kind: ``training``, ``transform`` or ``endpoint``.
    :param job_name: the job name.
    :param owner: the Airflow identity labels (RunIdentity.labels()).
    :param deadline_epoch_s: when the instances terminate themselves, in epoch seconds.
    :param extra_tags: the user's tags (Ec2Settings.extra_tags).
    """
    tags = {NAME_TAG: _tag_value(job_name)}
    tags.update({key: _tag_value(value) for key, value in extra_tags.items() if not key.startswith("ml-lifecycle.")})
    tags.update({key: _tag_value(value) for key, value in labels.owned(kind, job_name, dict(owner)).items()})
    tags[DEADLINE_TAG] = str(int(deadline_epoch_s))
    return tags


def as_tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """Return tags as EC2 wants them: ``[{"Key": k, "Value": v}, ...]``, sorted by key.

    :param tags: key -> value.
    """
    return [{"Key": key, "Value": tags[key]} for key in sorted(tags)]


def tag_specifications(
    tags: Mapping[str, str], resource_types: Sequence[str] = TAGGED_RESOURCE_TYPES
) -> list[dict[str, Any]]:
    """Return the TagSpecifications that tag each resource type at creation.

    :param tags: key -> value.
    :param resource_types: the EC2 resource types to tag (default instance, volume, network-interface).
    """
    return [{"ResourceType": kind, "Tags": as_tag_list(tags)} for kind in resource_types]


def deadline_minutes(deadline_epoch_s: float, now_epoch_s: float) -> int:
    """Return the whole minutes until a deadline, rounded up and at least 1 (for ``shutdown -h +N``).

    :param deadline_epoch_s: the deadline in epoch seconds.
    :param now_epoch_s: now in epoch seconds.
    """
    return max(1, math.ceil((deadline_epoch_s - now_epoch_s) / 60))


def _check_client_token(client_token: str) -> None:
    """Raise SpecError unless the token is 1-64 printable ASCII characters (EC2's idempotency token rule).

    :param client_token: the token.
    """
    if not isinstance(client_token, str) or not re.fullmatch(r"[\x20-\x7e]{1,64}", client_token):
        raise SpecError("client_token", f"{client_token!r} is not 1-64 ASCII characters", "Derive it from the job name")


def run_instances_request(
    settings: Ec2Settings,
    *,
    instance_type: str,
    count: int,
    user_data: str,
    tags: Mapping[str, str],
    ami_id: str | None,
    security_group_ids: Sequence[str],
    use_spot: bool,
    client_token: str,
    root_device_name: str = ROOT_DEVICE_NAME,
) -> dict[str, Any]:
    """Return the keyword arguments of boto3's ``ec2.run_instances`` for one job.

    What we set explicitly overrides a launch template: IMDSv2, shutdown = terminate, the encrypted root volume.

    :param settings: the job's launch settings.
    :param instance_type: a SageMaker or EC2 instance type.
    :param count: how many instances (MinCount = MaxCount: all or none).
    :param user_data: the boot script as text (boto3 base64-encodes it); at most 16384 bytes.
    :param tags: the tags of instances, volumes and network interfaces (see instance_tags).
    :param ami_id: the resolved AMI; None only when the launch template names one. Falls back to settings.ami_id.
    :param security_group_ids: the groups to attach; empty falls back to settings.security_group_ids.
    :param use_spot: launch one-time spot instances that terminate on interruption.
    :param client_token: the idempotency token (1-64 ASCII characters), so a retried call launches nothing twice.
    :param root_device_name: the AMI's root device name (default ``/dev/xvda``, Amazon Linux's).
    """
    count = checks.check_instance_count(count)
    _check_client_token(client_token)
    size = len(user_data.encode())
    if size > EC2_USER_DATA_LIMIT_BYTES:
        raise SpecError("user_data", f"is {size} bytes", f"Keep it to {EC2_USER_DATA_LIMIT_BYTES} bytes (EC2's limit)")
    image = ami_id or settings.ami_id
    if image is None and settings.launch_template is None:
        raise SpecError("ami_id", "no AMI is known", "Resolve the ECS-optimized AMI or set ami_id or launch_template")
    ebs: dict[str, Any] = {
        "VolumeSize": settings.volume_size_gb,
        "VolumeType": settings.volume_type,
        "Encrypted": True,
        "DeleteOnTermination": True,
    }
    if settings.kms_key_id is not None:
        ebs["KmsKeyId"] = settings.kms_key_id
    request: dict[str, Any] = {
        "MinCount": count,
        "MaxCount": count,
        "InstanceType": ec2_instance_type(instance_type),
        "UserData": user_data,
        "MetadataOptions": {
            "HttpTokens": "required",
            "HttpPutResponseHopLimit": 2,  # containers (one hop behind the host) reach the role credentials
            "HttpEndpoint": "enabled",
            "InstanceMetadataTags": "disabled",
        },
        "InstanceInitiatedShutdownBehavior": "terminate",
        "BlockDeviceMappings": [{"DeviceName": root_device_name, "Ebs": ebs}],
        "TagSpecifications": tag_specifications(tags),
        "ClientToken": client_token,
    }
    if image is not None:
        request["ImageId"] = image
    if settings.launch_template is not None:
        key = "LaunchTemplateId" if is_launch_template_id(settings.launch_template) else "LaunchTemplateName"
        request["LaunchTemplate"] = {key: settings.launch_template, "Version": settings.launch_template_version}
    if settings.subnet_id is not None:
        request["SubnetId"] = settings.subnet_id
    groups = list(security_group_ids or settings.security_group_ids)
    if groups:
        request["SecurityGroupIds"] = groups
    if settings.instance_profile is not None:
        key = "Arn" if is_instance_profile_arn(settings.instance_profile) else "Name"
        request["IamInstanceProfile"] = {key: settings.instance_profile}
    if settings.placement_group is not None:
        request["Placement"] = {"GroupName": settings.placement_group}
    if use_spot:
        request["InstanceMarketOptions"] = {
            "MarketType": "spot",
            "SpotOptions": {"SpotInstanceType": "one-time", "InstanceInterruptionBehavior": "terminate"},
        }
    return request
