"""How EC2 instances of a job are launched: AMI or launch template, network, profile, volume, tags."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from ml_lifecycle.core import checks
from ml_lifecycle.core.errors import SpecError

VOLUME_TYPES = ("gp2", "gp3", "io1", "io2")
MIN_VOLUME_GB = 8
MAX_VOLUME_GB = 16384
MAX_TAG_KEY_CHARS = 128
MAX_TAG_VALUE_CHARS = 256
# EC2 allows 50 tags per resource; our ownership tags (managed, kind, job, dag-id, task-id, run-id, map-index,
# deadline, Name) take 9 of them.
MAX_EXTRA_TAGS = 41
RESERVED_TAG_PREFIXES = ("ml-lifecycle.", "aws:")
DEFAULT_TEMPLATE_VERSION = "$Default"

_AMI_ID = re.compile(r"^ami-[0-9a-f]{8}(?:[0-9a-f]{9})?$")
_SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8}(?:[0-9a-f]{9})?$")
_GROUP_ID = re.compile(r"^sg-[0-9a-f]{8}(?:[0-9a-f]{9})?$")
_TEMPLATE_ID = re.compile(r"^lt-[0-9a-f]{17}$")
_TEMPLATE_NAME = re.compile(r"^[a-zA-Z0-9().\-/_]{3,128}$")
_TEMPLATE_VERSION = re.compile(r"^(?:\$Default|\$Latest|[1-9][0-9]*)$")
_PROFILE_NAME = re.compile(r"^[\w+=,.@-]{1,128}$")
_PROFILE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:instance-profile/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,128}$")
_KMS_KEY = re.compile(
    r"^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}|alias/[a-zA-Z0-9/_-]{1,250}"
    r"|arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(?:key/[a-zA-Z0-9-]+|alias/[a-zA-Z0-9/_-]+))$"
)
_PLACEMENT_GROUP = re.compile(r"^[\x21-\x7e]{1,255}$")


def is_launch_template_id(value: str) -> bool:
    """Say whether a launch template reference is an id (``lt-`` and 17 hex digits) rather than a name.

    :param value: the launch_template setting.
    """
    return bool(_TEMPLATE_ID.fullmatch(value))


def is_instance_profile_arn(value: str) -> bool:
    """Say whether an instance profile reference is an ARN rather than a name.

    :param value: the instance_profile setting.
    """
    return value.startswith("arn:")


def _check_pattern(parameter: str, value: Any, pattern: re.Pattern[str], example: str) -> None:
    """Raise SpecError unless value is a string matching pattern.

    :param parameter: the field name used in the message.
    :param value: the value given.
    :param pattern: the accepted shape.
    :param example: what a good value looks like.
    """
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise SpecError(parameter, f"{value!r} is not valid", f"Write e.g. {example!r}")


def _check_tags(values: Any) -> dict[str, str]:
    """Check the user's extra tags and return them as a plain dict.

    :param values: tag key -> value.
    """
    if not isinstance(values, Mapping):
        raise SpecError(
            "Ec2Settings.extra_tags", f"{type(values).__name__} is not a mapping", "Pass a dict of key -> value"
        )
    if len(values) > MAX_EXTRA_TAGS:
        raise SpecError(
            "Ec2Settings.extra_tags", f"has {len(values)} tags", f"Keep at most {MAX_EXTRA_TAGS} (EC2 allows 50)"
        )
    result: dict[str, str] = {}
    for key, value in values.items():
        where = f"Ec2Settings.extra_tags[{key!r}]"
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_TAG_KEY_CHARS:
            raise SpecError(where, "the key is not a string of 1-128 characters", "Use a shorter key")
        if key.lower().startswith(RESERVED_TAG_PREFIXES):
            raise SpecError(
                where, "the key uses a reserved prefix", "Keys must not start with 'ml-lifecycle.' or 'aws:'"
            )
        if not isinstance(value, str) or len(value) > MAX_TAG_VALUE_CHARS:
            raise SpecError(where, f"{value!r} is not a string of at most 256 characters", "Use a shorter string")
        result[key] = value
    return result


@dataclass(frozen=True)
class Ec2Settings:
    """Launch settings of a job's EC2 instances, validated when built.

    :param ami_id: the AMI, or None for the launch template's or the ECS-optimized Amazon Linux 2023 one.
    :param launch_template: a launch template name or ``lt-`` id, or None; explicit settings here override it.
    :param launch_template_version: ``$Default``, ``$Latest`` or a version number.
    :param subnet_id: the subnet (and so VPC and availability zone), or None for the default VPC.
    :param security_group_ids: the groups to attach; empty creates ``mlc-<job>`` for the job.
    :param instance_profile: an instance profile name or ARN (its role needs S3, CloudWatch Logs, EC2 describe).
    :param volume_size_gb: the root volume size in GiB, 8-16384 (default 100).
    :param volume_type: ``gp2``, ``gp3`` (default), ``io1`` or ``io2``.
    :param kms_key_id: the KMS key encrypting the root volume, or None for the account's EBS default key.
    :param placement_group: the name of an existing placement group, or None.
    :param extra_tags: more tags on instances, volumes and network interfaces (keys not ``ml-lifecycle.``/``aws:``).
    """

    ami_id: str | None = None
    launch_template: str | None = None
    launch_template_version: str = DEFAULT_TEMPLATE_VERSION
    subnet_id: str | None = None
    security_group_ids: tuple[str, ...] = ()
    instance_profile: str | None = None
    volume_size_gb: int = 100
    volume_type: str = "gp3"
    kms_key_id: str | None = None
    placement_group: str | None = None
    extra_tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Validate every field."""
        if self.ami_id is not None:
            _check_pattern("Ec2Settings.ami_id", self.ami_id, _AMI_ID, "ami-0123456789abcdef0")
        if self.launch_template is not None and not (
            isinstance(self.launch_template, str)
            and (is_launch_template_id(self.launch_template) or _TEMPLATE_NAME.fullmatch(self.launch_template))
        ):
            raise SpecError(
                "Ec2Settings.launch_template",
                f"{self.launch_template!r} is neither a template name nor an lt- id",
                "Write a name of 3-128 letters, digits and ().-/_ or an id like 'lt-0123456789abcdef0'",
            )
        _check_pattern(
            "Ec2Settings.launch_template_version", self.launch_template_version, _TEMPLATE_VERSION, "$Latest"
        )
        if self.launch_template is None and self.launch_template_version != DEFAULT_TEMPLATE_VERSION:
            raise SpecError(
                "Ec2Settings.launch_template_version", "is set without a launch_template", "Set launch_template too"
            )
        if self.subnet_id is not None:
            _check_pattern("Ec2Settings.subnet_id", self.subnet_id, _SUBNET_ID, "subnet-0123456789abcdef0")
        if not isinstance(self.security_group_ids, tuple | list):
            raise SpecError("Ec2Settings.security_group_ids", "is not a list", "Write ['sg-0123456789abcdef0']")
        object.__setattr__(self, "security_group_ids", tuple(self.security_group_ids))
        for group in self.security_group_ids:
            _check_pattern("Ec2Settings.security_group_ids", group, _GROUP_ID, "sg-0123456789abcdef0")
        if len(set(self.security_group_ids)) != len(self.security_group_ids):
            raise SpecError("Ec2Settings.security_group_ids", "names a group twice", "List each group once")
        if self.instance_profile is not None and not (
            isinstance(self.instance_profile, str)
            and (_PROFILE_ARN if is_instance_profile_arn(self.instance_profile) else _PROFILE_NAME).fullmatch(
                self.instance_profile
            )
        ):
            raise SpecError(
                "Ec2Settings.instance_profile",
                f"{self.instance_profile!r} is neither a profile name nor an instance-profile ARN",
                "Write e.g. 'ml-lifecycle-instance' or 'arn:aws:iam::123456789012:instance-profile/ml-lifecycle'",
            )
        size = checks.check_positive_int(
            "Ec2Settings.volume_size_gb", self.volume_size_gb, MIN_VOLUME_GB, MAX_VOLUME_GB
        )
        object.__setattr__(self, "volume_size_gb", size)
        checks.check_choice("Ec2Settings.volume_type", self.volume_type, VOLUME_TYPES)
        if self.kms_key_id is not None:
            _check_pattern("Ec2Settings.kms_key_id", self.kms_key_id, _KMS_KEY, "alias/ml-lifecycle")
        if self.placement_group is not None:
            _check_pattern("Ec2Settings.placement_group", self.placement_group, _PLACEMENT_GROUP, "ml-cluster")
        object.__setattr__(self, "extra_tags", _check_tags(self.extra_tags))

    @classmethod
    def known_keys(cls) -> tuple[str, ...]:
        """Return the setting names ``build`` accepts."""
        return tuple(item.name for item in fields(cls))

    @classmethod
    def build(cls, values: Mapping[str, Any] | None) -> Ec2Settings:
        """Build settings from an operator argument dict, converting rendered values.

        Empty strings of optional settings count as unset (a Jinja variable that rendered to nothing).

        :param values: setting name -> value; None gives the defaults.
        """
        if values is None:
            return cls()
        if not isinstance(values, Mapping):
            raise SpecError("ec2_settings", f"{type(values).__name__} is not a mapping", "Pass a dict of settings")
        unknown = sorted(str(key) for key in values if key not in cls.known_keys())
        if unknown:
            raise SpecError("ec2_settings", f"unknown keys {unknown}", f"Use only {', '.join(cls.known_keys())}")
        kwargs: dict[str, Any] = {key: (None if value == "" else value) for key, value in values.items()}
        for key in ("launch_template_version", "volume_type", "volume_size_gb", "extra_tags", "security_group_ids"):
            if key in kwargs and kwargs[key] is None:
                del kwargs[key]
        groups = kwargs.get("security_group_ids")
        if isinstance(groups, str):
            kwargs["security_group_ids"] = tuple(part.strip() for part in groups.split(",") if part.strip())
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict that ``build`` turns back into these settings."""
        result: dict[str, Any] = {item.name: getattr(self, item.name) for item in fields(self)}
        result["security_group_ids"] = list(self.security_group_ids)
        result["extra_tags"] = dict(self.extra_tags)
        return result


def check_ec2_settings(values: Mapping[str, Any] | None) -> Ec2Settings:
    """Build and so validate an operator's ec2_settings.

    :param values: setting name -> value, as Ec2Settings.build accepts them.
    """
    return Ec2Settings.build(values)
