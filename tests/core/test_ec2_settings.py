"""Ec2Settings: each bad launch setting raises SpecError naming the field; build() converts rendered values."""

from __future__ import annotations

from typing import Any

import pytest

from ml_lifecycle.core.ec2.settings import Ec2Settings, is_instance_profile_arn, is_launch_template_id
from ml_lifecycle.errors import SpecError

LONG_ID = "0123456789abcdef0"


def test_defaults() -> None:
    settings = Ec2Settings()
    assert settings.ami_id is None
    assert settings.launch_template is None
    assert settings.launch_template_version == "$Default"
    assert settings.security_group_ids == ()
    assert settings.volume_size_gb == 100
    assert settings.volume_type == "gp3"
    assert settings.extra_tags == {}


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"ami_id": f"ami-{LONG_ID}"}, id="ami-long"),
        pytest.param({"ami_id": "ami-12c6146b"}, id="ami-short"),
        pytest.param({"launch_template": "ml-workers"}, id="template-name"),
        pytest.param({"launch_template": f"lt-{LONG_ID}", "launch_template_version": "$Latest"}, id="template-id"),
        pytest.param({"launch_template": "ml/workers(v2)", "launch_template_version": "7"}, id="template-number"),
        pytest.param({"subnet_id": f"subnet-{LONG_ID}"}, id="subnet"),
        pytest.param({"security_group_ids": (f"sg-{LONG_ID}", "sg-12345678")}, id="groups"),
        pytest.param({"instance_profile": "ml-lifecycle-instance"}, id="profile-name"),
        pytest.param(
            {"instance_profile": "arn:aws:iam::123456789012:instance-profile/teams/ml/runner"}, id="profile-arn-path"
        ),
        pytest.param({"instance_profile": "arn:aws-cn:iam::123456789012:instance-profile/p"}, id="profile-arn-cn"),
        pytest.param({"volume_size_gb": 8}, id="volume-min"),
        pytest.param({"volume_size_gb": 16384, "volume_type": "io2"}, id="volume-max"),
        pytest.param({"volume_type": "gp2"}, id="gp2"),
        pytest.param({"kms_key_id": "alias/ml-lifecycle"}, id="kms-alias"),
        pytest.param({"kms_key_id": "1234abcd-12ab-34cd-56ef-1234567890ab"}, id="kms-uuid"),
        pytest.param(
            {"kms_key_id": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"}, id="kms-arn"
        ),
        pytest.param({"placement_group": "ml-cluster"}, id="placement"),
        pytest.param({"extra_tags": {"team": "ml", "Name": "custom", "cost-centre": "x" * 256}}, id="tags"),
    ],
)
def test_accepts(kwargs: dict[str, Any]) -> None:
    settings = Ec2Settings(**kwargs)
    for key, value in kwargs.items():
        assert getattr(settings, key) == value


@pytest.mark.parametrize(
    ("kwargs", "parameter", "fix"),
    [
        pytest.param({"ami_id": "ubuntu"}, "Ec2Settings.ami_id", "ami-", id="ami-word"),
        pytest.param({"ami_id": "ami-XYZ12345"}, "Ec2Settings.ami_id", "ami-", id="ami-upper"),
        pytest.param({"ami_id": "ami-1234"}, "Ec2Settings.ami_id", "ami-", id="ami-short"),
        pytest.param({"launch_template": "a b"}, "Ec2Settings.launch_template", "lt-", id="template-space"),
        pytest.param({"launch_template": "ab"}, "Ec2Settings.launch_template", "3-128", id="template-short"),
        pytest.param(
            {"launch_template": "tpl", "launch_template_version": "latest"},
            "Ec2Settings.launch_template_version",
            "$Latest",
            id="version-word",
        ),
        pytest.param(
            {"launch_template": "tpl", "launch_template_version": "0"},
            "Ec2Settings.launch_template_version",
            "$Latest",
            id="version-zero",
        ),
        pytest.param(
            {"launch_template_version": "3"},
            "Ec2Settings.launch_template_version",
            "launch_template",
            id="version-alone",
        ),
        pytest.param({"subnet_id": "sn-123"}, "Ec2Settings.subnet_id", "subnet-", id="subnet"),
        pytest.param({"security_group_ids": ("default",)}, "Ec2Settings.security_group_ids", "sg-", id="group-name"),
        pytest.param({"security_group_ids": "sg-12345678"}, "Ec2Settings.security_group_ids", "[", id="groups-str"),
        pytest.param(
            {"security_group_ids": ("sg-12345678", "sg-12345678")}, "Ec2Settings.security_group_ids", "once", id="dup"
        ),
        pytest.param({"instance_profile": "a role"}, "Ec2Settings.instance_profile", "arn:", id="profile-space"),
        pytest.param(
            {"instance_profile": "arn:aws:iam::123456789012:role/ml"}, "Ec2Settings.instance_profile", "arn:", id="role"
        ),
        pytest.param({"volume_size_gb": 7}, "Ec2Settings.volume_size_gb", "8 and 16384", id="volume-small"),
        pytest.param({"volume_size_gb": 16385}, "Ec2Settings.volume_size_gb", "8 and 16384", id="volume-big"),
        pytest.param({"volume_size_gb": 10.5}, "Ec2Settings.volume_size_gb", "whole number", id="volume-fraction"),
        pytest.param({"volume_size_gb": True}, "Ec2Settings.volume_size_gb", "whole number", id="volume-bool"),
        pytest.param({"volume_type": "st1"}, "Ec2Settings.volume_type", "'gp3'", id="volume-type"),
        pytest.param({"kms_key_id": "my key"}, "Ec2Settings.kms_key_id", "alias/", id="kms"),
        pytest.param({"placement_group": ""}, "Ec2Settings.placement_group", "ml-cluster", id="placement-empty"),
        pytest.param({"placement_group": "a b"}, "Ec2Settings.placement_group", "ml-cluster", id="placement-space"),
        pytest.param(
            {"extra_tags": {"ml-lifecycle.job": "x"}},
            "Ec2Settings.extra_tags['ml-lifecycle.job']",
            "reserved",
            id="ours",
        ),
        pytest.param({"extra_tags": {"aws:foo": "x"}}, "Ec2Settings.extra_tags['aws:foo']", "reserved", id="aws"),
        pytest.param({"extra_tags": {"AWS:foo": "x"}}, "Ec2Settings.extra_tags['AWS:foo']", "reserved", id="aws-upper"),
        pytest.param({"extra_tags": {"k" * 129: "x"}}, "Ec2Settings.extra_tags", "1-128", id="key-long"),
        pytest.param({"extra_tags": {"team": "x" * 257}}, "Ec2Settings.extra_tags['team']", "256", id="value-long"),
        pytest.param({"extra_tags": {"team": 5}}, "Ec2Settings.extra_tags['team']", "256", id="value-int"),
        pytest.param({"extra_tags": {f"k{i}": "v" for i in range(42)}}, "Ec2Settings.extra_tags", "41", id="too-many"),
        pytest.param({"extra_tags": ["team"]}, "Ec2Settings.extra_tags", "dict", id="tags-list"),
    ],
)
def test_rejects(kwargs: dict[str, Any], parameter: str, fix: str) -> None:
    with pytest.raises(SpecError) as info:
        Ec2Settings(**kwargs)
    assert info.value.parameter.startswith(parameter)
    assert fix in str(info.value)


def test_settings_are_frozen_and_tags_copied() -> None:
    tags = {"team": "ml"}
    settings = Ec2Settings(extra_tags=tags)
    tags["team"] = "changed"
    assert settings.extra_tags == {"team": "ml"}
    with pytest.raises(AttributeError):
        settings.volume_size_gb = 10  # type: ignore[misc]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param(None, Ec2Settings(), id="none"),
        pytest.param({}, Ec2Settings(), id="empty"),
        pytest.param(
            {"security_group_ids": ["sg-12345678", f"sg-{LONG_ID}"]},
            Ec2Settings(security_group_ids=("sg-12345678", f"sg-{LONG_ID}")),
            id="group-list",
        ),
        pytest.param(
            {"security_group_ids": "sg-12345678, sg-87654321"},
            Ec2Settings(security_group_ids=("sg-12345678", "sg-87654321")),
            id="group-comma-string",
        ),
        pytest.param({"volume_size_gb": "200"}, Ec2Settings(volume_size_gb=200), id="rendered-digits"),
        pytest.param({"volume_size_gb": " 64 "}, Ec2Settings(volume_size_gb=64), id="rendered-digits-spaces"),
        pytest.param({"subnet_id": "", "ami_id": ""}, Ec2Settings(), id="rendered-empty-is-unset"),
        pytest.param({"volume_type": None, "extra_tags": None}, Ec2Settings(), id="none-is-default"),
        pytest.param(
            {"launch_template": f"lt-{LONG_ID}", "launch_template_version": "2", "extra_tags": {"team": "ml"}},
            Ec2Settings(launch_template=f"lt-{LONG_ID}", launch_template_version="2", extra_tags={"team": "ml"}),
            id="template",
        ),
    ],
)
def test_build_converts(values: dict[str, Any] | None, expected: Ec2Settings) -> None:
    built = Ec2Settings.build(values)
    assert built == expected
    assert type(built.volume_size_gb) is int


def test_build_rejects_unknown_keys_listing_the_known_ones() -> None:
    with pytest.raises(SpecError, match=r"unknown keys \['subnet', 'zz'\]") as info:
        Ec2Settings.build({"subnet": "subnet-12345678", "zz": 1})
    for key in Ec2Settings.known_keys():
        assert key in str(info.value)


def test_build_rejects_a_non_mapping() -> None:
    with pytest.raises(SpecError, match="not a mapping"):
        Ec2Settings.build(["ami-12345678"])  # type: ignore[arg-type]


def test_build_wraps_field_errors() -> None:
    with pytest.raises(SpecError, match=r"^Ec2Settings.volume_size_gb: 'big' is not a whole number"):
        Ec2Settings.build({"volume_size_gb": "big"})


def test_to_dict_round_trips() -> None:
    settings = Ec2Settings(
        ami_id="ami-12345678",
        subnet_id="subnet-12345678",
        security_group_ids=("sg-12345678",),
        instance_profile="p",
        kms_key_id="alias/k",
        placement_group="pg",
        extra_tags={"team": "ml"},
    )
    document = settings.to_dict()
    assert document["security_group_ids"] == ["sg-12345678"]
    assert Ec2Settings.build(document) == settings


@pytest.mark.parametrize(
    ("value", "expected"),
    [(f"lt-{LONG_ID}", True), ("lt-workers", False), ("workers", False), (f"lt-{LONG_ID}0", False)],
)
def test_is_launch_template_id(value: str, expected: bool) -> None:
    assert is_launch_template_id(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"), [("arn:aws:iam::123456789012:instance-profile/p", True), ("profile", False)]
)
def test_is_instance_profile_arn(value: str, expected: bool) -> None:
    assert is_instance_profile_arn(value) is expected
