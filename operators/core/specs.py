"""Frozen, validated job specs: training (with channels), batch transform and endpoint."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ml_lifecycle.core import checks
from ml_lifecycle.core.checks import DEFAULT_INSTANCE_TYPE, DEFAULT_MAX_RUNTIME_S, SUPPORTED_SPLIT_TYPES
from ml_lifecycle.core.container_resources import size_in_bytes
from ml_lifecycle.core.data_capture import DataCapture
from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.gpus import canonical_gpus
from ml_lifecycle.core.image_ref import parse_image_ref
from ml_lifecycle.core.roles import check_role_arn, check_role_environment
from ml_lifecycle.core.script_mode import DEFAULT_LOG_LEVEL, check_entry_point
from ml_lifecycle.core.secret_refs import parse_secrets

# The transform's spec lives in its own module; it stays importable from here with the other specs.
from ml_lifecycle.core.transform_spec import AssembleWith, BatchStrategy, DataType, SplitType, TransformSpec
from ml_lifecycle.core.uris import parse_uri

__all__ = [
    "SUPPORTED_SPLIT_TYPES",
    "AssembleWith",
    "BatchStrategy",
    "Channel",
    "DataType",
    "EndpointSpec",
    "SplitType",
    "TrainingSpec",
    "TransformSpec",
    "to_channels",
]

Distribution = Literal["FullyReplicated", "ShardedByS3Key"]
InputMode = Literal["File"]
Compression = Literal["GZIP", "NONE"]


@dataclass(frozen=True)
class Channel:
    """One training input channel, as SageMaker describes it.

    :param uri: ``s3://bucket/prefix`` or ``file:///abs/path``; every object below it is staged.
    :param distribution: ``FullyReplicated`` (every host gets all) or ``ShardedByS3Key`` (each host a share).
    :param content_type: the MIME type reported in inputdataconfig.json, or None.
    :param data_type: ``S3Prefix`` (every object below uri) or ``ManifestFile`` (uri is a manifest listing the
        objects: ``[{"prefix": "s3://b/p/"}, "key1", ...]``).
    :param input_mode: ``File`` (the objects are on disk before the container starts).
    """

    uri: str
    distribution: Distribution = "FullyReplicated"
    content_type: str | None = None
    data_type: DataType = "S3Prefix"
    input_mode: InputMode = "File"

    def __post_init__(self) -> None:
        """Validate every field."""
        parse_uri(self.uri, "Channel.uri")
        checks.check_choice("Channel.distribution", self.distribution, ("FullyReplicated", "ShardedByS3Key"))
        checks.check_choice("Channel.data_type", self.data_type, ("S3Prefix", "ManifestFile"))
        checks.check_choice("Channel.input_mode", self.input_mode, ("File",))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict (for XCom, records and trigger kwargs)."""
        return {
            "uri": self.uri,
            "distribution": self.distribution,
            "content_type": self.content_type,
            "data_type": self.data_type,
            "input_mode": self.input_mode,
        }


def to_channels(values: Mapping[str, Any]) -> dict[str, Channel]:
    """Turn ``{"train": "s3://..." | Channel | dict}`` into validated channels.

    :param values: channel name -> URI string, Channel, or a dict of Channel fields.
    """
    if not isinstance(values, Mapping) or not values:
        raise SpecError("channels", f"{values!r} holds no channel", 'Pass {"train": "s3://bucket/prefix"}')
    result: dict[str, Channel] = {}
    for name, value in values.items():
        checks.check_channel_name(name)
        where = f"channels[{name!r}]"
        if isinstance(value, Channel):
            result[name] = value
        elif isinstance(value, str):
            parse_uri(value, where)
            result[name] = Channel(value)
        elif isinstance(value, Mapping):
            try:
                result[name] = Channel(**value)
            except TypeError as err:
                raise SpecError(where, str(err), "Use the fields of ml_lifecycle.Channel") from err
            except SpecError as err:
                raise SpecError(where, str(err), "Fix that field of the channel") from err
        else:
            raise SpecError(where, f"{value!r} is not a URI or Channel", "Write a URI or ml_lifecycle.Channel(...)")
    return result


@dataclass(frozen=True)
class TrainingSpec:
    """Everything a training job needs, validated when built.

    :param image_uri: the image to run with ``train``.
    :param channels: channel name -> Channel.
    :param output_path: where ``<job>/output/model.tar.gz`` goes.
    :param hyperparameters: name -> value, all strings (as SageMaker writes them).
    :param instance_type: the instance type reported to the container (and launched on EC2).
    :param instance_count: the number of hosts, algo-1..N.
    :param max_runtime_s: after this the job is stopped (SIGTERM, then SIGKILL 120 s later).
    :param metric_definitions: (name, regex) pairs run over the log.
    :param environment: extra environment variables for the container.
    :param entrypoint: ContainerEntrypoint, or empty for the image's.
    :param arguments: ContainerArguments, or empty for ``train``.
    :param compression: ``GZIP`` (model.tar.gz) or ``NONE`` (the model directory uploaded as files).
    :param checkpoint_uri: a prefix synced with /opt/ml/checkpoints (restored at start, uploaded during the
        run), or None.
    :param enable_network_isolation: the containers get no network beyond each other (SageMaker's option).
    :param gpus: the GPUs each container gets: None for the instance type's, a count, ``"all"`` or
        ``"device=0,2"`` (canonical_gpus' form); ``"0"`` runs a GPU type on the CPU, for debugging.
    :param shm_size_bytes: the size of each container's /dev/shm; None for half the instance's memory.
    :param secrets: environment variable -> reference (core.secret_refs), read when the job starts; never a value.
    :param role_arn: the execution role whose credentials the containers get (SageMaker's RoleArn), or None.
    :param entry_point: script mode: the program in the ``code`` channel's sourcedir.tar.gz, or None.
    :param container_log_level: script mode: the toolkit's log level (``sagemaker_container_log_level``).
    """

    image_uri: str
    channels: Mapping[str, Channel]
    output_path: str
    hyperparameters: Mapping[str, str] = field(default_factory=dict)
    instance_type: str = DEFAULT_INSTANCE_TYPE
    instance_count: int = 1
    max_runtime_s: int = DEFAULT_MAX_RUNTIME_S
    metric_definitions: tuple[tuple[str, str], ...] = ()
    environment: Mapping[str, str] = field(default_factory=dict)
    entrypoint: tuple[str, ...] = ()
    arguments: tuple[str, ...] = ()
    compression: Compression = "GZIP"
    checkpoint_uri: str | None = None
    enable_network_isolation: bool = False
    gpus: str | None = None
    shm_size_bytes: int | None = None
    secrets: Mapping[str, str] = field(default_factory=dict)
    role_arn: str | None = None
    entry_point: str | None = None
    container_log_level: int = DEFAULT_LOG_LEVEL

    def __post_init__(self) -> None:
        """Validate every field."""
        check_role_arn(self.role_arn)
        check_role_environment(self.role_arn, self.environment, self.secrets)
        parse_image_ref(self.image_uri, "image_uri")
        parse_uri(self.output_path, "output_path")
        if self.entry_point is not None:
            check_entry_point(self.entry_point)
        parse_secrets(self.secrets, self.environment)
        if self.checkpoint_uri is not None:
            parse_uri(self.checkpoint_uri, "checkpoint_uri")
        checks.check_instance_count(self.instance_count)
        checks.check_max_runtime_s(self.max_runtime_s)
        checks.check_choice("compression", self.compression, ("GZIP", "NONE"))
        if not self.channels:
            raise SpecError("channels", "is empty", 'Pass at least one channel, e.g. {"train": "file:///data"}')
        for name, channel in self.channels.items():
            checks.check_channel_name(name)
            if not isinstance(channel, Channel):
                raise SpecError(f"channels[{name!r}]", "is not a Channel", "Build specs with to_channels()")
        if any(not isinstance(v, str) for v in self.hyperparameters.values()):
            raise SpecError(
                "hyperparameters", "holds non-string values", "Build specs with hyperparameters_as_strings()"
            )
        if not isinstance(self.instance_type, str) or not self.instance_type:
            raise SpecError("instance_type", f"{self.instance_type!r} is empty", "Write e.g. 'ml.m5.large'")
        checks.check_container_sizing(self.instance_type, self.gpus, self.shm_size_bytes)

    @classmethod
    def build(
        cls,
        *,
        image_uri: str,
        channels: Mapping[str, Any],
        output_path: str,
        hyperparameters: Mapping[str, Any] | None = None,
        instance_type: str = DEFAULT_INSTANCE_TYPE,
        instance_count: Any = 1,
        max_runtime_s: Any = DEFAULT_MAX_RUNTIME_S,
        metric_definitions: Any = None,
        environment: Mapping[str, Any] | None = None,
        entrypoint: Any = None,
        arguments: Any = None,
        compression: str = "GZIP",
        checkpoint_uri: str | None = None,
        enable_network_isolation: bool = False,
        gpus: Any = None,
        shm_size: Any = None,
        secrets: Mapping[str, Any] | None = None,
        role_arn: str | None = None,
        entry_point: str | None = None,
        container_log_level: Any = DEFAULT_LOG_LEVEL,
    ) -> TrainingSpec:
        """Build a spec from operator arguments, converting and validating each one.

        :param image_uri: see the class.
        :param channels: channel name -> URI, Channel or dict of Channel fields.
        :param output_path: see the class.
        :param hyperparameters: name -> scalar; converted to strings.
        :param instance_type: see the class.
        :param instance_count: a whole number (a rendered string of digits is accepted).
        :param max_runtime_s: a whole number of seconds.
        :param metric_definitions: a list of ``{"Name", "Regex"}``.
        :param environment: name -> scalar.
        :param entrypoint: a list of strings, or None.
        :param arguments: a list of strings, or None.
        :param compression: see the class.
        :param checkpoint_uri: see the class.
        :param enable_network_isolation: see the class.
        :param gpus: a count, ``"all"``, device ids (a list, or ``"device=0,2"``), or None; see the class.
        :param shm_size: the /dev/shm size: bytes, or e.g. ``"2g"``; None for half the instance's memory.
        :param secrets: environment variable -> reference; see the class.
        :param role_arn: see the class.
        :param entry_point: see the class (the ``code`` channel is in channels already).
        :param container_log_level: see the class.
        """
        environment_strings = checks.check_environment(environment)
        return cls(
            image_uri=image_uri,
            channels=to_channels(channels),
            output_path=output_path,
            hyperparameters=checks.hyperparameters_as_strings(hyperparameters),
            instance_type=instance_type,
            instance_count=checks.check_instance_count(instance_count),
            max_runtime_s=checks.check_max_runtime_s(max_runtime_s),
            metric_definitions=checks.check_metric_definitions(metric_definitions),
            environment=environment_strings,
            entrypoint=_string_tuple("entrypoint", entrypoint),
            arguments=_string_tuple("arguments", arguments),
            compression=compression,  # type: ignore[arg-type]
            checkpoint_uri=checkpoint_uri or None,
            enable_network_isolation=bool(enable_network_isolation),
            gpus=canonical_gpus(gpus),
            shm_size_bytes=size_in_bytes(shm_size) if shm_size not in (None, "") else None,
            secrets=parse_secrets(secrets, environment_strings),
            role_arn=check_role_arn(role_arn),
            entry_point=entry_point,
            container_log_level=checks.check_positive_int("container_log_level", container_log_level, 0, 50),
        )


@dataclass(frozen=True)
class EndpointSpec:
    """A live endpoint serving a model.

    :param endpoint_name: 1-63 letters, digits and hyphens; deploying the same name again replaces the model.
    :param image_uri: the image to run with ``serve``.
    :param model_uri: the model.tar.gz extracted under /opt/ml/model.
    :param instance_count: the number of serving containers.
    :param environment: extra environment variables for the container.
    :param startup_timeout_s: how long GET /ping may take to answer 200 after start.
    :param instance_type: the serving instances' type (the instances launched on EC2).
    :param gpus: the GPUs each container gets: None for the instance type's, a count, ``"all"`` or
        ``"device=0,2"`` (canonical_gpus' form); ``"0"`` runs a GPU type on the CPU, for debugging.
    :param shm_size_bytes: the size of each container's /dev/shm; None for half the instance's memory.
    :param secrets: environment variable -> reference (core.secret_refs), read when a container starts; never a value.
    :param role_arn: the execution role whose credentials the containers get (SageMaker's RoleArn), or None.
    :param data_capture: what the endpoint records of its requests and responses (core.data_capture), or None.
    """

    endpoint_name: str
    image_uri: str
    model_uri: str
    instance_count: int = 1
    environment: Mapping[str, str] = field(default_factory=dict)
    startup_timeout_s: int = 240
    instance_type: str = DEFAULT_INSTANCE_TYPE
    gpus: str | None = None
    shm_size_bytes: int | None = None
    secrets: Mapping[str, str] = field(default_factory=dict)
    role_arn: str | None = None
    data_capture: DataCapture | None = None

    def __post_init__(self) -> None:
        """Validate every field."""
        check_role_arn(self.role_arn)
        check_role_environment(self.role_arn, self.environment, self.secrets)
        checks.check_endpoint_name(self.endpoint_name)
        if self.data_capture is not None and not isinstance(self.data_capture, DataCapture):
            raise SpecError("data_capture", f"{self.data_capture!r} is not a DataCapture", "Use parse_data_capture")
        parse_secrets(self.secrets, self.environment)
        parse_image_ref(self.image_uri, "image_uri")
        parse_uri(self.model_uri, "model_uri")
        checks.check_instance_count(self.instance_count)
        checks.check_positive_int("startup_timeout_s", self.startup_timeout_s, 1, 3600)
        checks.ec2_instance_type(self.instance_type)
        checks.check_container_sizing(self.instance_type, self.gpus, self.shm_size_bytes)


def _string_tuple(parameter: str, value: Any) -> tuple[str, ...]:
    """Turn None or a list of strings into a tuple, or say what to write.

    :param parameter: the parameter name used in error messages.
    :param value: None, or a list of strings.
    """
    if value is None:
        return ()
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
        raise SpecError(
            parameter, f"{value!r} is not a list of strings", 'Write e.g. ["python3", "/opt/program/train"]'
        )
    return tuple(value)
