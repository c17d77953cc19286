"""Specs: built from operator arguments, every bad field raises SpecError naming the parameter."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from ml_lifecycle.core.specs import Channel, EndpointSpec, TrainingSpec, TransformSpec, to_channels
from ml_lifecycle.errors import SpecError

IMAGE = "localhost:5000/ml/linear:1"
TRAIN = {"image_uri": IMAGE, "channels": {"train": "s3://bucket/train/"}, "output_path": "s3://bucket/out"}
TRANSFORM = {
    "image_uri": IMAGE,
    "model_uri": "s3://bucket/out/job/output/model.tar.gz",
    "input_uri": "s3://bucket/score/",
    "output_uri": "file:///tmp/scored",
}
ENDPOINT = {"endpoint_name": "linear-ep", "image_uri": IMAGE, "model_uri": "file:///models/model.tar.gz"}


def raises_naming(parameter: str, problem: str = "") -> Any:
    """Expect a SpecError whose message starts with the parameter and contains the problem."""
    return pytest.raises(SpecError, match="^" + re.escape(f"{parameter}: ") + ".*" + re.escape(problem))


# --- Channel -------------------------------------------------------------------------------------------


def test_channel_defaults_and_to_dict() -> None:
    channel = Channel("s3://bucket/train/")
    assert channel.to_dict() == {
        "uri": "s3://bucket/train/",
        "distribution": "FullyReplicated",
        "content_type": None,
        "data_type": "S3Prefix",
        "input_mode": "File",
    }
    assert Channel(**channel.to_dict()) == channel


@pytest.mark.parametrize(
    ("fields", "parameter", "problem"),
    [
        pytest.param({"uri": "ftp://x"}, "Channel.uri", "scheme 'ftp'", id="uri-scheme"),
        pytest.param(
            {"uri": "s3://b", "distribution": "Sharded"},
            "Channel.distribution",
            "'Sharded' is not allowed",
            id="distribution",
        ),
        pytest.param(
            {"uri": "s3://b", "data_type": "AugmentedManifestFile"},
            "Channel.data_type",
            "'AugmentedManifestFile'",
            id="augmented-manifest-refused",
        ),
        pytest.param(
            {"uri": "s3://b", "input_mode": "Pipe"}, "Channel.input_mode", "'Pipe' is not allowed", id="pipe-refused"
        ),
        pytest.param(
            {"uri": "s3://b", "input_mode": "FastFile"}, "Channel.input_mode", "'FastFile'", id="fastfile-refused"
        ),
    ],
)
def test_channel_rejects(fields: dict[str, Any], parameter: str, problem: str) -> None:
    with raises_naming(parameter, problem):
        Channel(**fields)


def test_channel_distribution_error_lists_the_choices() -> None:
    with pytest.raises(SpecError, match=r"Write one of 'FullyReplicated', 'ShardedByS3Key'$"):
        Channel("s3://b", distribution="sharded")


# --- to_channels ---------------------------------------------------------------------------------------


def test_to_channels_accepts_uri_channel_and_dict() -> None:
    sharded = Channel("s3://b/v", distribution="ShardedByS3Key")
    channels = to_channels(
        {"train": "s3://b/t", "validation": sharded, "test": {"uri": "file:///data/test", "content_type": "text/csv"}}
    )
    assert channels == {
        "train": Channel("s3://b/t"),
        "validation": sharded,
        "test": Channel("file:///data/test", content_type="text/csv"),
    }


@pytest.mark.parametrize(
    ("values", "parameter", "problem"),
    [
        pytest.param({}, "channels", "holds no channel", id="empty"),
        pytest.param(["s3://b/t"], "channels", "holds no channel", id="list"),
        pytest.param(None, "channels", "holds no channel", id="none"),
        pytest.param({"bad name": "s3://b"}, "channels['bad name']", "is not a valid channel name", id="bad-name"),
        pytest.param({"train": "ftp://x"}, "channels['train']", "'ftp://x' has the scheme 'ftp'", id="ftp-uri"),
        pytest.param({"train": "relative/dir"}, "channels['train']", "scheme '(none)'", id="relative-uri"),
        pytest.param({"train": 5}, "channels['train']", "5 is not a URI or Channel", id="int-value"),
        pytest.param({"train": {"uri": "s3://b", "bogus": 1}}, "channels['train']", "bogus", id="unknown-dict-field"),
        pytest.param({"train": {}}, "channels['train']", "uri", id="dict-without-uri"),
    ],
)
def test_to_channels_rejects(values: Any, parameter: str, problem: str) -> None:
    with raises_naming(parameter, problem):
        to_channels(values)


def test_unknown_scheme_names_the_channel_and_suggests_s3_or_file() -> None:
    with pytest.raises(SpecError) as info:
        to_channels({"train": "ftp://x"})
    assert info.value.parameter == "channels['train']"
    assert "s3://" in str(info.value)
    assert "file://" in str(info.value)


def test_dict_channel_errors_name_the_channel() -> None:
    with raises_naming("channels['train']", "ftp"):
        to_channels({"train": {"uri": "ftp://x"}})


# --- TrainingSpec --------------------------------------------------------------------------------------


def test_training_build_converts_every_argument() -> None:
    spec = TrainingSpec.build(
        image_uri=IMAGE,
        channels={"train": "s3://bucket/train/", "validation": {"uri": "file:///data/v", "content_type": "text/csv"}},
        output_path="s3://bucket/out",
        hyperparameters={"lr": 0.1, "epochs": 3, "shuffle": True},
        instance_type="ml.c5.xlarge",
        instance_count="2",
        max_runtime_s="3600",
        metric_definitions=[{"Name": "rmse", "Regex": "rmse=([0-9.]+)"}],
        environment={"FOO": 1},
        entrypoint=["python3", "/opt/program/train.py"],
        arguments=["--verbose"],
        compression="NONE",
    )
    assert spec.channels == {
        "train": Channel("s3://bucket/train/"),
        "validation": Channel("file:///data/v", content_type="text/csv"),
    }
    assert spec.hyperparameters == {"lr": "0.1", "epochs": "3", "shuffle": "True"}
    assert (spec.instance_type, spec.instance_count, spec.max_runtime_s) == ("ml.c5.xlarge", 2, 3600)
    assert spec.metric_definitions == (("rmse", "rmse=([0-9.]+)"),)
    assert spec.environment == {"FOO": "1"}
    assert spec.compression == "NONE"
    assert spec.entrypoint == ("python3", "/opt/program/train.py")
    assert spec.arguments == ("--verbose",)


def test_training_build_defaults() -> None:
    spec = TrainingSpec.build(**TRAIN)
    assert spec.hyperparameters == {}
    assert (spec.instance_type, spec.instance_count, spec.max_runtime_s) == ("ml.m5.large", 1, 86400)
    assert spec.compression == "GZIP"
    assert (spec.entrypoint, spec.arguments, spec.metric_definitions) == ((), (), ())
    assert spec.environment == {}


def test_training_spec_is_frozen() -> None:
    spec = TrainingSpec.build(**TRAIN)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.instance_count = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("override", "parameter", "problem"),
    [
        pytest.param({"image_uri": "Not An Image"}, "image_uri", "is not a valid image reference", id="image"),
        pytest.param({"output_path": "ftp://x"}, "output_path", "scheme 'ftp'", id="output-path"),
        pytest.param({"channels": {"train": "ftp://x"}}, "channels['train']", "scheme 'ftp'", id="channel-uri"),
        pytest.param({"channels": {}}, "channels", "holds no channel", id="no-channels"),
        pytest.param(
            {"hyperparameters": {"layers": [64, 32]}}, "hyperparameters['layers']", "not a scalar", id="non-scalar-hp"
        ),
        pytest.param({"hyperparameters": {"x": None}}, "hyperparameters['x']", "not a scalar", id="none-hp"),
        pytest.param({"instance_count": 0}, "instance_count", "0 is out of range", id="instance-count-0"),
        pytest.param({"instance_count": "0"}, "instance_count", "0 is out of range", id="instance-count-string-0"),
        pytest.param({"instance_count": -1}, "instance_count", "-1 is out of range", id="instance-count-negative"),
        pytest.param({"instance_count": "two"}, "instance_count", "not a whole number", id="instance-count-word"),
        pytest.param({"max_runtime_s": 0}, "max_runtime_s", "0 is out of range", id="max-runtime-0"),
        pytest.param({"max_runtime_s": -60}, "max_runtime_s", "-60 is out of range", id="max-runtime-negative"),
        pytest.param({"max_runtime_s": 28 * 86400 + 1}, "max_runtime_s", "out of range", id="max-runtime-over-28-days"),
        pytest.param(
            {"metric_definitions": [{"Name": "rmse", "Regex": "rmse=[0-9.]+"}]},
            "metric_definitions[0]",
            "has no capturing group",
            id="metric-regex-without-group",
        ),
        pytest.param(
            {"environment": {"BAD-NAME": "1"}}, "environment['BAD-NAME']", "not a valid variable name", id="env-name"
        ),
        pytest.param(
            {"environment": {"1X": "1"}}, "environment['1X']", "not a valid variable name", id="env-leading-digit"
        ),
        pytest.param(
            {"entrypoint": "python3 train.py"}, "entrypoint", "is not a list of strings", id="entrypoint-string"
        ),
        pytest.param({"arguments": ["--epochs", 3]}, "arguments", "is not a list of strings", id="arguments-int"),
        pytest.param({"compression": "ZIP"}, "compression", "'ZIP' is not allowed", id="compression"),
        pytest.param({"instance_type": ""}, "instance_type", "is empty", id="instance-type-empty"),
    ],
)
def test_training_build_rejects(override: dict[str, Any], parameter: str, problem: str) -> None:
    with raises_naming(parameter, problem):
        TrainingSpec.build(**{**TRAIN, **override})


@pytest.mark.parametrize(
    ("override", "parameter", "problem"),
    [
        pytest.param({"channels": {}}, "channels", "is empty", id="no-channels"),
        pytest.param(
            {"channels": {"train": "s3://b/t"}}, "channels['train']", "is not a Channel", id="raw-uri-channel"
        ),
        pytest.param(
            {"channels": {"a b": Channel("s3://b")}}, "channels['a b']", "not a valid channel name", id="bad-name"
        ),
        pytest.param(
            {"hyperparameters": {"lr": 0.1}}, "hyperparameters", "holds non-string values", id="non-string-hp"
        ),
        pytest.param({"instance_count": 0}, "instance_count", "out of range", id="instance-count-0"),
        pytest.param({"max_runtime_s": 0}, "max_runtime_s", "out of range", id="max-runtime-0"),
    ],
)
def test_training_spec_direct_construction_rejects(override: dict[str, Any], parameter: str, problem: str) -> None:
    fields = {**TRAIN, "channels": {"train": Channel("s3://bucket/train/")}, **override}
    with raises_naming(parameter, problem):
        TrainingSpec(**fields)


# --- TransformSpec -------------------------------------------------------------------------------------


def test_transform_defaults() -> None:
    spec = TransformSpec(**TRANSFORM)
    assert (spec.split_type, spec.assemble_with) == ("Line", "Line")
    assert (spec.batch_strategy, spec.max_payload_mb, spec.max_concurrent_transforms) == (None, None, None)
    assert (spec.invocation_timeout_s, spec.max_retries) == (600, 3)
    assert spec.instance_count == 1


@pytest.mark.parametrize(
    "override",
    [
        pytest.param({"split_type": "None", "assemble_with": "None"}, id="whole-objects"),
        pytest.param({"batch_strategy": "SingleRecord"}, id="single-record"),
        pytest.param({"max_payload_mb": 100}, id="payload-100"),
        pytest.param(
            {"max_payload_mb": 0, "split_type": "None", "max_concurrent_transforms": 100},
            id="payload-0-streams-uncapped",
        ),
        pytest.param({"max_concurrent_transforms": 0}, id="concurrency-0-asks-container"),
        pytest.param({"max_concurrent_transforms": 10, "max_payload_mb": 10}, id="product-exactly-100"),
        pytest.param({"max_retries": 0, "invocation_timeout_s": 3600}, id="retry-and-timeout-bounds"),
    ],
)
def test_transform_accepts(override: dict[str, Any]) -> None:
    spec = TransformSpec(**{**TRANSFORM, **override})
    assert all(getattr(spec, k) == v for k, v in override.items())


@pytest.mark.parametrize(
    ("override", "parameter", "problem"),
    [
        pytest.param({"image_uri": "UPPER"}, "image_uri", "not a valid image reference", id="image"),
        pytest.param({"model_uri": "ftp://m"}, "model_uri", "scheme 'ftp'", id="model-uri"),
        pytest.param({"input_uri": "gs://b/in"}, "input_uri", "scheme 'gs'", id="input-uri"),
        pytest.param({"output_uri": "file://host/out"}, "output_uri", "names the host", id="output-uri"),
        pytest.param({"split_type": "Protobuf"}, "split_type", "'Protobuf' is not allowed", id="unknown-split-type"),
        pytest.param({"batch_strategy": "MULTI_RECORD"}, "batch_strategy", "not allowed", id="batch-strategy"),
        pytest.param({"assemble_with": "Newline"}, "assemble_with", "not allowed", id="assemble-with"),
        pytest.param({"max_payload_mb": -1}, "max_payload_mb", "-1 is out of range", id="payload-negative"),
        pytest.param({"max_payload_mb": 101}, "max_payload_mb", "101 is out of range", id="payload-101"),
        pytest.param(
            {"max_concurrent_transforms": -1}, "max_concurrent_transforms", "out of range", id="concurrency-negative"
        ),
        pytest.param(
            {"max_concurrent_transforms": 101}, "max_concurrent_transforms", "out of range", id="concurrency-101"
        ),
        pytest.param(
            {"max_concurrent_transforms": 20, "max_payload_mb": 10},
            "max_concurrent_transforms",
            "20 x max_payload_mb 10 exceeds 100 MB",
            id="product-over-100",
        ),
        pytest.param({"instance_count": 0}, "instance_count", "out of range", id="instance-count-0"),
        pytest.param({"invocation_timeout_s": 0}, "invocation_timeout_s", "out of range", id="timeout-0"),
        pytest.param({"invocation_timeout_s": 3601}, "invocation_timeout_s", "out of range", id="timeout-3601"),
        pytest.param({"max_retries": 4}, "max_retries", "4 is out of range", id="retries-4"),
        pytest.param({"max_retries": -1}, "max_retries", "out of range", id="retries-negative"),
    ],
)
def test_transform_rejects(override: dict[str, Any], parameter: str, problem: str) -> None:
    with raises_naming(parameter, problem):
        TransformSpec(**{**TRANSFORM, **override})


# --- EndpointSpec --------------------------------------------------------------------------------------


def test_endpoint_defaults() -> None:
    spec = EndpointSpec(**ENDPOINT)
    assert (spec.instance_count, spec.startup_timeout_s) == (1, 240)
    assert spec.environment == {}


@pytest.mark.parametrize(
    ("override", "parameter", "problem"),
    [
        pytest.param({"endpoint_name": "bad_name"}, "endpoint_name", "not a valid endpoint name", id="underscore"),
        pytest.param({"endpoint_name": "-ep"}, "endpoint_name", "not a valid endpoint name", id="leading-hyphen"),
        pytest.param({"endpoint_name": ""}, "endpoint_name", "not a valid endpoint name", id="empty"),
        pytest.param({"image_uri": "a//b"}, "image_uri", "not a valid image reference", id="image"),
        pytest.param({"model_uri": "ftp://m"}, "model_uri", "scheme 'ftp'", id="model-uri"),
        pytest.param({"instance_count": 0}, "instance_count", "out of range", id="instance-count-0"),
        pytest.param({"startup_timeout_s": 0}, "startup_timeout_s", "out of range", id="startup-0"),
        pytest.param({"startup_timeout_s": 3601}, "startup_timeout_s", "out of range", id="startup-3601"),
    ],
)
def test_endpoint_rejects(override: dict[str, Any], parameter: str, problem: str) -> None:
    with raises_naming(parameter, problem):
        EndpointSpec(**{**ENDPOINT, **override})
