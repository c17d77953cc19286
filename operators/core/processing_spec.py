"""The processing job's spec: SageMaker Processing's inputs, outputs and app specification, frozen and validated."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from ml_lifecycle.core import checks
from ml_lifecycle.core.checks import DEFAULT_INSTANCE_TYPE, DEFAULT_MAX_RUNTIME_S
from ml_lifecycle.core.container_resources import size_in_bytes
from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.gpus import canonical_gpus
from ml_lifecycle.core.image_ref import parse_image_ref
from ml_lifecycle.core.roles import check_role_arn, check_role_environment
from ml_lifecycle.core.secret_refs import parse_secrets
from ml_lifecycle.core.uris import parse_uri

PROCESSING_ROOT = "/opt/ml/processing"
# SageMaker's limits (botocore's ProcessingInputs, ProcessingOutputConfig, ContainerEntrypoint, VolumeSizeInGB).
MAX_INPUTS = 10
MAX_OUTPUTS = 10
MAX_CONTAINER_STRINGS = 100
MAX_CONTAINER_STRING_CHARS = 256
DEFAULT_VOLUME_SIZE_GB = 30
MAX_VOLUME_SIZE_GB = 16384

# A completed job's XCom names each output's destination by its name, beside these keys.
RESERVED_OUTPUT_NAMES = ("job_name", "status", "record_uri", "metrics", "image_digest")

S3DataType = Literal["S3Prefix", "ManifestFile"]
S3DataDistributionType = Literal["FullyReplicated", "ShardedByS3Key"]
S3CompressionType = Literal["None", "Gzip"]
S3InputMode = Literal["File"]
S3UploadMode = Literal["EndOfJob", "Continuous"]


def check_local_path(parameter: str, value: Any) -> str:
    """Return a LocalPath below /opt/ml/processing/, or say what to write.

    :param parameter: the field named in the error.
    :param value: the path.
    """
    fix = f"Write an absolute folder below {PROCESSING_ROOT}/, e.g. {PROCESSING_ROOT}/input"
    if not isinstance(value, str) or not value.startswith(PROCESSING_ROOT + "/"):
        raise SpecError(parameter, f"{value!r} is not below {PROCESSING_ROOT}/", fix)
    normal = posixpath.normpath(value)
    if normal != value.rstrip("/") or normal == PROCESSING_ROOT or len(value) > 256:
        raise SpecError(parameter, f"{value!r} is not a plain folder path (no '..', '.' or '//')", fix)
    return normal


def check_name(parameter: str, value: Any) -> str:
    """Return an InputName or OutputName (SageMaker's: 1-64 letters, digits, '.', '-', '_').

    :param parameter: the field named in the error.
    :param value: the name.
    """
    if not isinstance(value, str):
        raise SpecError(parameter, f"{value!r} is not a string", "Write a name such as 'raw' or 'train'")
    try:
        return checks.check_channel_name(value)
    except SpecError as err:
        raise SpecError(parameter, f"{value!r} is not a valid name", "Use 1-64 letters, digits, '.', '-', '_'") from err


@dataclass(frozen=True)
class ProcessingInput:
    """One ProcessingInput with its S3Input: what is staged to LocalPath before the container starts.

    :param name: InputName, unique among the job's inputs.
    :param source: S3Uri: ``s3://bucket/prefix`` or ``file:///abs/path`` (a prefix, or a manifest with ManifestFile).
    :param local_path: LocalPath, a folder below /opt/ml/processing/.
    :param data_type: S3DataType: ``S3Prefix`` (every object below source) or ``ManifestFile``.
    :param distribution: S3DataDistributionType: ``FullyReplicated`` or ``ShardedByS3Key`` (each host a share).
    :param compression: S3CompressionType: ``None``, or ``Gzip`` (each object is decompressed as it is staged).
    :param input_mode: S3InputMode: ``File`` (the objects are on disk before the container starts).
    """

    name: str
    source: str
    local_path: str
    data_type: S3DataType = "S3Prefix"
    distribution: S3DataDistributionType = "FullyReplicated"
    compression: S3CompressionType = "None"
    input_mode: S3InputMode = "File"

    def __post_init__(self) -> None:
        """Validate every field."""
        where = f"inputs[{self.name!r}]"
        check_name(f"{where}.name", self.name)
        parse_uri(self.source, f"{where}.source")
        object.__setattr__(self, "local_path", check_local_path(f"{where}.local_path", self.local_path))
        checks.check_choice(f"{where}.data_type", self.data_type, ("S3Prefix", "ManifestFile"))
        checks.check_choice(f"{where}.distribution", self.distribution, ("FullyReplicated", "ShardedByS3Key"))
        checks.check_choice(f"{where}.compression", self.compression, ("None", "Gzip"))
        checks.check_choice(f"{where}.input_mode", self.input_mode, ("File",))


@dataclass(frozen=True)
class ProcessingOutput:
    """One ProcessingOutput with its S3Output: LocalPath uploaded to destination when the job completes.

    :param name: OutputName, unique among the job's outputs.
    :param local_path: LocalPath, a folder below /opt/ml/processing/.
    :param destination: S3Uri: ``s3://bucket/prefix`` or ``file:///abs/path``; files keep their relative paths.
    :param upload_mode: S3UploadMode: ``EndOfJob`` (uploaded once, when the job completed) or ``Continuous``
        (new and changed files uploaded while the job runs, and once more when it ends, whatever the outcome).
    """

    name: str
    local_path: str
    destination: str
    upload_mode: S3UploadMode = "EndOfJob"

    def __post_init__(self) -> None:
        """Validate every field."""
        where = f"outputs[{self.name!r}]"
        check_name(f"{where}.name", self.name)
        if self.name in RESERVED_OUTPUT_NAMES:
            raise SpecError(f"{where}.name", "is a key the task's XCom uses already", "Choose another name")
        object.__setattr__(self, "local_path", check_local_path(f"{where}.local_path", self.local_path))
        parse_uri(self.destination, f"{where}.destination")
        checks.check_choice(f"{where}.upload_mode", self.upload_mode, ("EndOfJob", "Continuous"))


def to_inputs(values: Any) -> tuple[ProcessingInput, ...]:
    """Turn a list of ProcessingInput or dicts of its fields into validated inputs.

    :param values: the inputs, or None.
    """
    return tuple(_build(ProcessingInput, "inputs", index, value) for index, value in enumerate(values or ()))


def to_outputs(values: Any) -> tuple[ProcessingOutput, ...]:
    """Turn a list of ProcessingOutput or dicts of its fields into validated outputs.

    :param values: the outputs, or None.
    """
    return tuple(_build(ProcessingOutput, "outputs", index, value) for index, value in enumerate(values or ()))


def _build(cls: type[Any], parameter: str, index: int, value: Any) -> Any:
    """Return value as cls, building it from a dict of its fields.

    :param cls: ProcessingInput or ProcessingOutput.
    :param parameter: ``inputs`` or ``outputs``.
    :param index: its position, for the error.
    :param value: an instance of cls, or a dict of its fields.
    """
    if isinstance(value, cls):
        return value
    if not isinstance(value, Mapping):
        raise SpecError(f"{parameter}[{index}]", f"{value!r} is not a dict", f"Write ml_lifecycle.{cls.__name__}(...)")
    try:
        return cls(**value)
    except TypeError as err:
        raise SpecError(f"{parameter}[{index}]", str(err), f"Use the fields of ml_lifecycle.{cls.__name__}") from err


def container_strings(parameter: str, value: Any) -> tuple[str, ...]:
    """Return ContainerEntrypoint or ContainerArguments as a tuple: 1-100 strings of at most 256 characters.

    :param parameter: ``entrypoint`` or ``arguments``.
    :param value: None, or a list of strings.
    """
    if value is None or (isinstance(value, Sequence) and not isinstance(value, str) and not value):
        return ()
    if isinstance(value, str) or not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise SpecError(parameter, f"{value!r} is not a list of strings", 'Write e.g. ["python3", "/opt/program/p.py"]')
    if len(value) > MAX_CONTAINER_STRINGS or any(len(v) > MAX_CONTAINER_STRING_CHARS for v in value):
        raise SpecError(
            parameter, "holds more than 100 strings or one longer than 256 characters", "Pass long values in a file"
        )
    return tuple(value)


@dataclass(frozen=True)
class ProcessingSpec:
    """Everything a processing job needs, validated when built.

    :param image_uri: AppSpecification.ImageUri, run with its own ENTRYPOINT/CMD unless overridden.
    :param records_uri: where the job's record lives: ``<records_uri>/<job>/status.json`` (and, on EC2, its
        staging); the operator defaults it to the artifact store's ``processing/`` folder.
    :param inputs: the ProcessingInputs, staged before the container starts.
    :param outputs: the ProcessingOutputs, uploaded when the job completed.
    :param entrypoint: ContainerEntrypoint, or empty for the image's.
    :param arguments: ContainerArguments, or empty for none (the image's CMD, when no entrypoint is given).
    :param instance_type: ClusterConfig.InstanceType, reported to the container (and launched on EC2).
    :param instance_count: ClusterConfig.InstanceCount: the hosts algo-1..N.
    :param volume_size_gb: ClusterConfig.VolumeSizeInGB (on EC2, the instances' volume when ec2_settings names none).
    :param max_runtime_s: StoppingCondition.MaxRuntimeInSeconds: then SIGTERM, SIGKILL 120 s later.
    :param environment: the container's Environment.
    :param enable_network_isolation: NetworkConfig.EnableNetworkIsolation: the containers reach nothing but each other.
    :param role_arn: RoleArn: the execution role whose credentials the containers get, or None.
    :param gpus: the GPUs each container gets: None for the instance type's, a count, ``"all"`` or ``"device=0,2"``.
    :param shm_size_bytes: the size of each container's /dev/shm; None for half the instance's memory.
    :param secrets: environment variable -> reference (core.secret_refs), read when the job starts; never a value.
    """

    image_uri: str
    records_uri: str
    inputs: tuple[ProcessingInput, ...] = ()
    outputs: tuple[ProcessingOutput, ...] = ()
    entrypoint: tuple[str, ...] = ()
    arguments: tuple[str, ...] = ()
    instance_type: str = DEFAULT_INSTANCE_TYPE
    instance_count: int = 1
    volume_size_gb: int = DEFAULT_VOLUME_SIZE_GB
    max_runtime_s: int = DEFAULT_MAX_RUNTIME_S
    environment: Mapping[str, str] = field(default_factory=dict)
    enable_network_isolation: bool = False
    role_arn: str | None = None
    gpus: str | None = None
    shm_size_bytes: int | None = None
    secrets: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Validate every field, and that the inputs' and outputs' names and folders do not clash."""
        parse_image_ref(self.image_uri, "image_uri")
        parse_uri(self.records_uri, "records_uri")
        check_role_arn(self.role_arn)
        check_role_environment(self.role_arn, self.environment, self.secrets)
        parse_secrets(self.secrets, self.environment)
        checks.check_environment(self.environment)
        container_strings("entrypoint", self.entrypoint)
        container_strings("arguments", self.arguments)
        checks.check_instance_count(self.instance_count)
        checks.check_max_runtime_s(self.max_runtime_s)
        checks.check_positive_int("volume_size_gb", self.volume_size_gb, 1, MAX_VOLUME_SIZE_GB)
        if not isinstance(self.instance_type, str) or not self.instance_type:
            raise SpecError("instance_type", f"{self.instance_type!r} is empty", "Write e.g. 'ml.m5.large'")
        checks.check_container_sizing(self.instance_type, self.gpus, self.shm_size_bytes)
        if len(self.inputs) > MAX_INPUTS or len(self.outputs) > MAX_OUTPUTS:
            raise SpecError("inputs/outputs", "hold more than 10 entries each", "Merge prefixes (SageMaker's limit)")
        for parameter, entries, cls in (
            ("inputs", self.inputs, ProcessingInput),
            ("outputs", self.outputs, ProcessingOutput),
        ):
            if any(not isinstance(entry, cls) for entry in entries):
                raise SpecError(
                    parameter, f"holds something other than {cls.__name__}", f"Build it with to_{parameter}()"
                )
            names = [entry.name for entry in entries]
            if len(set(names)) != len(names):
                raise SpecError(parameter, f"names {sorted(names)} are not unique", "Give each a name of its own")
        _check_folders_apart([*self.inputs, *self.outputs])

    @classmethod
    def build(
        cls,
        *,
        image_uri: str,
        records_uri: str,
        inputs: Any = None,
        outputs: Any = None,
        entrypoint: Any = None,
        arguments: Any = None,
        instance_type: str = DEFAULT_INSTANCE_TYPE,
        instance_count: Any = 1,
        volume_size_gb: Any = DEFAULT_VOLUME_SIZE_GB,
        max_runtime_s: Any = DEFAULT_MAX_RUNTIME_S,
        environment: Mapping[str, Any] | None = None,
        enable_network_isolation: bool = False,
        role_arn: str | None = None,
        gpus: Any = None,
        shm_size: Any = None,
        secrets: Mapping[str, Any] | None = None,
    ) -> ProcessingSpec:
        """Build a spec from operator arguments, converting and validating each one.

        :param image_uri: see the class.
        :param records_uri: see the class.
        :param inputs: a list of ProcessingInput or dicts of its fields.
        :param outputs: a list of ProcessingOutput or dicts of its fields.
        :param entrypoint: a list of strings, or None.
        :param arguments: a list of strings, or None.
        :param instance_type: see the class.
        :param instance_count: a whole number (a rendered string of digits is accepted).
        :param volume_size_gb: a whole number of GiB.
        :param max_runtime_s: a whole number of seconds.
        :param environment: name -> scalar.
        :param enable_network_isolation: see the class.
        :param role_arn: see the class.
        :param gpus: a count, ``"all"``, device ids (a list, or ``"device=0,2"``), or None.
        :param shm_size: the /dev/shm size: bytes, or e.g. ``"2g"``; None for half the instance's memory.
        :param secrets: environment variable -> reference.
        """
        environment_strings = checks.check_environment(environment)
        return cls(
            image_uri=image_uri,
            records_uri=records_uri,
            inputs=to_inputs(inputs),
            outputs=to_outputs(outputs),
            entrypoint=container_strings("entrypoint", entrypoint),
            arguments=container_strings("arguments", arguments),
            instance_type=instance_type,
            instance_count=checks.check_instance_count(instance_count),
            volume_size_gb=checks.check_positive_int("volume_size_gb", volume_size_gb, 1, MAX_VOLUME_SIZE_GB),
            max_runtime_s=checks.check_max_runtime_s(max_runtime_s),
            environment=environment_strings,
            enable_network_isolation=bool(enable_network_isolation),
            role_arn=check_role_arn(role_arn),
            gpus=canonical_gpus(gpus),
            shm_size_bytes=size_in_bytes(shm_size) if shm_size not in (None, "") else None,
            secrets=parse_secrets(secrets, environment_strings),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the spec as JSON-safe data (from_dict reverses it exactly)."""
        data = asdict(self)
        data.update(environment=dict(self.environment), secrets=dict(self.secrets))
        data.update(entrypoint=list(self.entrypoint), arguments=list(self.arguments))
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProcessingSpec:
        """Rebuild (and validate) a spec from to_dict's output.

        :param data: the dict.
        """
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise SpecError("spec", f"has unknown fields {unknown}", "Write the spec with ProcessingSpec.to_dict")
        values = dict(data)
        values.update(inputs=to_inputs(data.get("inputs")), outputs=to_outputs(data.get("outputs")))
        values.update(entrypoint=tuple(data.get("entrypoint") or ()), arguments=tuple(data.get("arguments") or ()))
        values.update(environment=dict(data.get("environment") or {}), secrets=dict(data.get("secrets") or {}))
        try:
            return cls(**values)
        except TypeError as err:
            raise SpecError("spec", str(err), "Write the spec with ProcessingSpec.to_dict") from err


def _check_folders_apart(entries: Sequence[ProcessingInput | ProcessingOutput]) -> None:
    """Refuse two inputs or outputs whose LocalPaths are the same folder or one inside the other; an output inside
    another output is allowed, as on SageMaker (the outer one uploads the inner one's files too).

    :param entries: every input and output.
    """
    for index, first in enumerate(entries):
        for second in entries[index + 1 :]:
            a, b = first.local_path, second.local_path
            both_outputs = isinstance(first, ProcessingOutput) and isinstance(second, ProcessingOutput)
            if a == b or (not both_outputs and (a.startswith(b + "/") or b.startswith(a + "/"))):
                raise SpecError(
                    f"local_path of {first.name!r} and {second.name!r}",
                    f"{a} and {b} overlap",
                    "Give each input and output a folder of its own, e.g. /opt/ml/processing/input/<name>",
                )
