"""What a batch transform runs: the serving image, the model, the input and output, and SageMaker's transform options."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from ml_lifecycle.core import checks
from ml_lifecycle.core.checks import SUPPORTED_SPLIT_TYPES
from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.image_ref import parse_image_ref
from ml_lifecycle.core.roles import check_role_arn, check_role_environment
from ml_lifecycle.core.secret_refs import parse_secrets
from ml_lifecycle.core.uris import parse_uri

if TYPE_CHECKING:
    from ml_lifecycle.core.data_processing import DataProcessing

SplitType = Literal["None", "Line", "RecordIO", "TFRecord"]
BatchStrategy = Literal["MultiRecord", "SingleRecord"]
AssembleWith = Literal["None", "Line"]
DataType = Literal["S3Prefix", "ManifestFile"]


@dataclass(frozen=True)
class TransformSpec:
    """A batch transform: the serving image over every object below input_uri.

    :param image_uri: the image to run with ``serve``.
    :param model_uri: the model.tar.gz extracted under /opt/ml/model.
    :param input_uri: the prefix (or single object) to transform.
    :param output_uri: where ``<relative input key>.out`` objects go.
    :param content_type: the Content-Type of each request.
    :param accept: the Accept header of each request, or None.
    :param split_type: how objects are split into records: ``Line``, ``None`` (whole objects), ``RecordIO`` or
        ``TFRecord`` (SingleRecord sends each record's data, MultiRecord records with their framing).
    :param batch_strategy: one record per request, or as many as fit in max_payload_mb; None asks the
        container's /execution-parameters, then defaults to MultiRecord.
    :param max_payload_mb: the most bytes per request, in MB (1-100); 0 streams bodies of any size with chunked
        encoding (MultiRecord or split_type None: each object whole); None asks the container, then 6.
    :param max_concurrent_transforms: requests in flight per instance; None (or 0) asks the container, then 1.
    :param assemble_with: ``Line`` adds a newline after each transformed record; ``None`` concatenates.
    :param environment: extra environment variables for the container.
    :param instance_count: the number of serving hosts the objects are split across.
    :param invocation_timeout_s: the time one request may take.
    :param max_retries: how often a failed request is retried (0-3).
    :param instance_type: the type of each of the instance_count hosts (the instances launched on EC2).
    :param max_runtime_s: after this the transform is stopped (it fails as MaxRuntimeExceeded).
    :param data_type: ``S3Prefix`` (every object below input_uri) or ``ManifestFile`` (input_uri is a manifest:
        ``[{"prefix": "s3://b/p/"}, "key1", ...]``).
    :param compression_type: ``None`` or ``Gzip`` (objects are decompressed as they stream in).
    :param input_filter: a JSONPath selecting what each record sends, e.g. ``$[1:]``; None is ``$``.
    :param join_source: ``Input`` joins each output with its input record; ``None`` writes outputs alone.
    :param output_filter: a JSONPath selecting what is written per record, e.g. ``$[0,-1]``; None is ``$``.
    :param gpus: the GPUs each container gets: None for the instance type's, a count, ``"all"`` or
        ``"device=0,2"`` (canonical_gpus' form); ``"0"`` runs a GPU type on the CPU, for debugging.
    :param shm_size_bytes: the size of each container's /dev/shm; None for half the instance's memory.
    :param secrets: environment variable -> reference (core.secret_refs), read when the job starts; never a value.
    :param role_arn: the execution role whose credentials the containers get (SageMaker's RoleArn), or None.
    """

    image_uri: str
    model_uri: str
    input_uri: str
    output_uri: str
    content_type: str | None = None
    accept: str | None = None
    split_type: SplitType = "Line"
    batch_strategy: BatchStrategy | None = None
    max_payload_mb: int | None = None
    max_concurrent_transforms: int | None = None
    assemble_with: AssembleWith = "Line"
    environment: Mapping[str, str] = field(default_factory=dict)
    instance_count: int = 1
    invocation_timeout_s: int = 600
    max_retries: int = 3
    instance_type: str = checks.DEFAULT_INSTANCE_TYPE
    max_runtime_s: int = checks.DEFAULT_MAX_RUNTIME_S
    data_type: DataType = "S3Prefix"
    compression_type: Literal["None", "Gzip"] = "None"
    input_filter: str | None = None
    join_source: Literal["None", "Input"] = "None"
    output_filter: str | None = None
    gpus: str | None = None
    shm_size_bytes: int | None = None
    secrets: Mapping[str, str] = field(default_factory=dict)
    role_arn: str | None = None

    def __post_init__(self) -> None:
        """Validate every field."""
        check_role_arn(self.role_arn)
        check_role_environment(self.role_arn, self.environment, self.secrets)
        parse_image_ref(self.image_uri, "image_uri")
        parse_secrets(self.secrets, self.environment)
        parse_uri(self.model_uri, "model_uri")
        parse_uri(self.input_uri, "input_uri")
        parse_uri(self.output_uri, "output_uri")
        checks.ec2_instance_type(self.instance_type)
        checks.check_container_sizing(self.instance_type, self.gpus, self.shm_size_bytes)
        checks.check_max_runtime_s(self.max_runtime_s)
        checks.check_choice("split_type", self.split_type, SUPPORTED_SPLIT_TYPES)
        if self.batch_strategy is not None:
            checks.check_choice("batch_strategy", self.batch_strategy, ("MultiRecord", "SingleRecord"))
        checks.check_choice("assemble_with", self.assemble_with, ("None", "Line"))
        if self.max_payload_mb is not None:
            # 0 is SageMaker's MaxPayloadInMB=0: bodies of any size, streamed with chunked encoding.
            checks.check_positive_int("max_payload_mb", self.max_payload_mb, 0, 100)
        if self.max_concurrent_transforms is not None:
            checks.check_positive_int("max_concurrent_transforms", self.max_concurrent_transforms, 0, 100)
        if (self.max_concurrent_transforms or 1) * (self.max_payload_mb or 1) > 100:
            raise SpecError(
                "max_concurrent_transforms",
                f"{self.max_concurrent_transforms} x max_payload_mb {self.max_payload_mb} exceeds 100 MB",
                "Lower one of them so that their product is at most 100",
            )
        checks.check_instance_count(self.instance_count)
        checks.check_positive_int("invocation_timeout_s", self.invocation_timeout_s, 1, 3600)
        checks.check_positive_int("max_retries", self.max_retries, 0, 3)
        checks.check_choice("data_type", self.data_type, ("S3Prefix", "ManifestFile"))
        checks.check_choice("compression_type", self.compression_type, ("None", "Gzip"))
        checks.check_streamed_split(self.max_payload_mb, self.split_type, self.batch_strategy)
        checks.check_streamed_processing(
            self.max_payload_mb, self.split_type, self.batch_strategy, self.data_processing() is not None
        )

    def data_processing(self) -> DataProcessing | None:
        """Return the validated input_filter / join_source / output_filter settings, or None when all are defaults."""
        # Imported here: DAG files import this module, and most transforms use no JSONPath filter.
        from ml_lifecycle.core.data_processing import data_processing_of

        return data_processing_of(self)
