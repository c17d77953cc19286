"""Specs and the EC2 job document as JSON-safe dicts, so an instance agent can rebuild exactly what was launched."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ml_lifecycle.core.data_capture import DataCapture
from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.processing_spec import ProcessingSpec
from ml_lifecycle.core.specs import Channel, EndpointSpec, TrainingSpec, TransformSpec

JOB_DOCUMENT_VERSION = 1
MAPPING_FIELDS = ("environment", "secrets")  # of the flat specs
# SageMaker's log groups are /aws/sagemaker/<kind>; ours mirror them.
LOG_GROUPS = {
    "training": "/aws/ml-lifecycle/TrainingJobs",
    "transform": "/aws/ml-lifecycle/TransformJobs",
    "processing": "/aws/ml-lifecycle/ProcessingJobs",
    "endpoint": "/aws/ml-lifecycle/Endpoints",
}


def training_spec_to_dict(spec: TrainingSpec) -> dict[str, Any]:
    """Return a training spec as JSON-safe data (training_spec_from_dict reverses it exactly).

    :param spec: the training spec.
    """
    return {
        "image_uri": spec.image_uri,
        "channels": {name: channel.to_dict() for name, channel in sorted(spec.channels.items())},
        "output_path": spec.output_path,
        "hyperparameters": dict(spec.hyperparameters),
        "instance_type": spec.instance_type,
        "instance_count": spec.instance_count,
        "max_runtime_s": spec.max_runtime_s,
        "metric_definitions": [[name, regex] for name, regex in spec.metric_definitions],
        "environment": dict(spec.environment),
        "entrypoint": list(spec.entrypoint),
        "arguments": list(spec.arguments),
        "compression": spec.compression,
        "checkpoint_uri": spec.checkpoint_uri,
        "enable_network_isolation": spec.enable_network_isolation,
        "gpus": spec.gpus,
        "shm_size_bytes": spec.shm_size_bytes,
        "secrets": dict(spec.secrets),  # references: the instance's agent reads the values with its role
        "role_arn": spec.role_arn,
        "entry_point": spec.entry_point,
        "container_log_level": spec.container_log_level,
    }


def training_spec_from_dict(data: dict[str, Any]) -> TrainingSpec:
    """Rebuild (and validate) a training spec from training_spec_to_dict's output.

    :param data: the dict.
    """
    known = set(TrainingSpec.__dataclass_fields__)
    unknown = sorted(set(data) - known)
    if unknown:
        raise SpecError("spec", f"has unknown fields {unknown}", "Write the spec with training_spec_to_dict")
    values = dict(data)
    values["channels"] = {name: Channel(**fields) for name, fields in (data.get("channels") or {}).items()}
    values["hyperparameters"] = dict(data.get("hyperparameters") or {})
    values["environment"] = dict(data.get("environment") or {})
    values["secrets"] = dict(data.get("secrets") or {})
    values["metric_definitions"] = tuple((str(n), str(r)) for n, r in data.get("metric_definitions") or ())
    values["entrypoint"] = tuple(data.get("entrypoint") or ())
    values["arguments"] = tuple(data.get("arguments") or ())
    try:
        return TrainingSpec(**values)
    except TypeError as err:
        raise SpecError("spec", str(err), "Write the spec with training_spec_to_dict") from err


def flat_spec_to_dict(spec: TransformSpec | EndpointSpec) -> dict[str, Any]:
    """Return a transform or endpoint spec (flat fields, one mapping) as JSON-safe data.

    :param spec: the spec.
    """
    return {
        f.name: dict(value) if f.name in MAPPING_FIELDS else _nested_to_dict(value)
        for f in fields(spec)
        for value in [getattr(spec, f.name)]
    }


def _nested_to_dict(value: Any) -> Any:
    """Return a spec field's value as JSON-safe data: a nested dataclass (an endpoint's DataCapture) as a dict.

    :param value: the field's value.
    """
    return asdict(value) if isinstance(value, DataCapture) else value


def flat_spec_from_dict(cls: type[Any], data: dict[str, Any]) -> Any:
    """Rebuild (and validate) a transform or endpoint spec from flat_spec_to_dict's output.

    :param cls: TransformSpec or EndpointSpec.
    :param data: the dict.
    """
    unknown = sorted(set(data) - set(cls.__dataclass_fields__))
    if unknown:
        raise SpecError("spec", f"has unknown fields {unknown}", "Write the spec with flat_spec_to_dict")
    values = {**data, **{name: dict(data.get(name) or {}) for name in MAPPING_FIELDS}}
    if isinstance(values.get("data_capture"), dict):
        capture = values["data_capture"]
        values["data_capture"] = DataCapture(
            **{**capture, **{k: tuple(capture.get(k) or ()) for k in ("csv_content_types", "json_content_types")}}
        )
    try:
        return cls(**values)
    except TypeError as err:
        raise SpecError("spec", str(err), "Write the spec with flat_spec_to_dict") from err


SPEC_CODECS: dict[str, tuple[Callable[[Any], dict[str, Any]], Callable[[dict[str, Any]], Any]]] = {
    "training": (training_spec_to_dict, training_spec_from_dict),
    "transform": (flat_spec_to_dict, lambda data: flat_spec_from_dict(TransformSpec, data)),
    "endpoint": (flat_spec_to_dict, lambda data: flat_spec_from_dict(EndpointSpec, data)),
    "processing": (ProcessingSpec.to_dict, ProcessingSpec.from_dict),
}


@dataclass(frozen=True, kw_only=True)
class JobDocument:
    """What the operator tells the instances of one EC2 job (``<staging>/job.json``).

    :param version: the document format; only JOB_DOCUMENT_VERSION is understood.
    :param job_name: the job's name.
    :param kind: ``training``, ``transform``, ``processing`` or ``endpoint`` (which of SPEC_CODECS encodes the spec).
    :param spec: the job's spec (TrainingSpec, TransformSpec or EndpointSpec, as kind says).
    :param owner: the ownership labels (DAG, task, run, map index).
    :param region: the AWS region of the instances.
    :param instance_count: how many instances run the job (algo-1..N).
    :param deadline_epoch_s: when the instances terminate themselves, in epoch seconds.
    :param log_group: the CloudWatch Logs group the agents write to.
    :param use_spot: whether the instances are spot instances.
    :param record_uri: the job record (``<output_path>/<job>/status.json``).
    :param staging_uri: the staging prefix (``<output_path>/<job>/staging/``).
    :param launched_at_epoch_s: when the operator launched the instances, in epoch seconds.
    """

    version: int = JOB_DOCUMENT_VERSION
    job_name: str
    kind: str = "training"
    spec: Any
    owner: dict[str, str] = field(default_factory=dict)
    region: str
    instance_count: int
    deadline_epoch_s: int
    log_group: str = "/aws/ml-lifecycle/TrainingJobs"
    use_spot: bool = False
    record_uri: str
    staging_uri: str
    launched_at_epoch_s: float

    def to_dict(self) -> dict[str, Any]:
        """Return the document as JSON-safe data."""
        return {
            "version": self.version,
            "job_name": self.job_name,
            "kind": self.kind,
            "spec": SPEC_CODECS[self.kind][0](self.spec),
            "owner": dict(self.owner),
            "region": self.region,
            "instance_count": self.instance_count,
            "deadline_epoch_s": self.deadline_epoch_s,
            "log_group": self.log_group,
            "use_spot": self.use_spot,
            "record_uri": self.record_uri,
            "staging_uri": self.staging_uri,
            "launched_at_epoch_s": self.launched_at_epoch_s,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobDocument:
        """Read a document; a version this code does not know is refused.

        :param data: the parsed job.json.
        """
        version = data.get("version")
        if version != JOB_DOCUMENT_VERSION:
            raise SpecError(
                "job document",
                f"has version {version!r}, but this agent reads only version {JOB_DOCUMENT_VERSION}",
                "Launch the job with the same ml_lifecycle release as the agent bundle it uploads",
            )
        kind = data.get("kind")
        if kind not in SPEC_CODECS:
            raise SpecError(
                "job document", f"has kind {kind!r}", f"Write one of {', '.join(SPEC_CODECS)} (a newer agent bundle?)"
            )
        try:
            return cls(
                version=version,
                job_name=str(data["job_name"]),
                kind=str(data["kind"]),
                spec=SPEC_CODECS[str(kind)][1](data["spec"]),
                owner={str(k): str(v) for k, v in (data.get("owner") or {}).items()},
                region=str(data["region"]),
                instance_count=int(data["instance_count"]),
                deadline_epoch_s=int(data["deadline_epoch_s"]),
                log_group=str(data["log_group"]),
                use_spot=bool(data["use_spot"]),
                record_uri=str(data["record_uri"]),
                staging_uri=str(data["staging_uri"]),
                launched_at_epoch_s=float(data["launched_at_epoch_s"]),
            )
        except KeyError as err:
            raise SpecError("job document", f"lacks the field {err}", "Write it with JobDocument.to_dict") from err
