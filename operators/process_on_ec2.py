"""ProcessOnEC2Operator: run a SageMaker Processing container with its inputs staged and its outputs uploaded."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ml_lifecycle.base import JobOperator
from ml_lifecycle.compute import check_compute
from ml_lifecycle.core import checks
from ml_lifecycle.core.checks import DEFAULT_INSTANCE_TYPE, DEFAULT_MAX_RUNTIME_S
from ml_lifecycle.core.image_ref import parse_image_ref
from ml_lifecycle.core.roles import check_role_arn
from ml_lifecycle.core.uris import parse_uri
from ml_lifecycle.links import InstancesLink, JobLogsLink
from ml_lifecycle.train_on_ec2 import _check_ec2_settings

if TYPE_CHECKING:  # the spec loads when a task runs (or checks untemplated inputs), not at DAG parse time
    from ml_lifecycle.core.processing_spec import ProcessingSpec

RECORDS_FOLDER = "processing"


class ProcessOnEC2Operator(JobOperator):
    """Run a processing job (split, featurize, evaluate) with any image, as SageMaker Processing runs it.

    XCom: ``job_name``, ``status``, ``record_uri``, ``image_digest``, and each output's name -> its destination URI.

    :param image_uri: the processing image (a local image, or one in a registry, pulled when missing). (templated)
    :param inputs: ProcessingInputs: a list of ``ml_lifecycle.ProcessingInput`` or dicts of its fields: ``name``,
        ``source`` (``s3://`` or ``file://`` prefix, or a manifest), ``local_path`` (below /opt/ml/processing/),
        ``data_type`` (``S3Prefix``/``ManifestFile``), ``distribution`` (``FullyReplicated``/``ShardedByS3Key``),
        ``compression`` (``None``/``Gzip``: decompressed as staged), ``input_mode`` (``File``). Staged before the
        container starts; read-only in it. (templated)
    :param outputs: ProcessingOutputs: a list of ``ml_lifecycle.ProcessingOutput`` or dicts of its fields: ``name``,
        ``local_path`` (below /opt/ml/processing/), ``destination`` (``s3://`` or ``file://``), ``upload_mode``
        (``EndOfJob``: every host's files are uploaded there when the job completed, not when it failed or was
        stopped, as SageMaker; ``Continuous``: uploaded while the job runs and when it ends). (templated)
    :param entrypoint: ContainerEntrypoint, or None for the image's ENTRYPOINT. (templated)
    :param arguments: ContainerArguments, or None for the image's CMD (there is no ``train`` argument). (templated)
    :param compute: ``local`` (the Docker engine) or ``ec2``. (templated)
    :param instance_type: the instance type; reported in resourceconfig.json, and on the local engine the
        containers get its memory and CPUs (at most the machine's). (templated)
    :param instance_count: the number of hosts, algo-1..N; default 1. (templated)
    :param volume_size_gb: VolumeSizeInGB, reported in processingjobconfig.json; with compute="ec2" the instances'
        volume (unless ec2_settings sets volume_size_gb); default 30.
    :param max_runtime_s: seconds before the job is stopped (SIGTERM, SIGKILL 120 s later); default 1 day. (templated)
    :param environment: the container's environment variables. (templated)
    :param enable_network_isolation: the containers reach nothing but each other, as SageMaker's option.
    :param role_arn: the execution role (SageMaker's RoleArn): its credentials are served to the containers, never put
        in their environment (see TrainOnEC2Operator). (templated)
    :param gpus: the GPUs each container gets: None (default) the instance type's, a count, ``"all"`` or device ids.
    :param shm_size: each container's /dev/shm: bytes or e.g. ``"8g"``; default half the instance type's memory.
    :param secrets: environment variable -> reference read when the job starts (see TrainOnEC2Operator). (templated)
    :param records_uri: where the job's record lives, ``<records_uri>/<job>/status.json`` (a retry finds the job there
        by its name); default ``<artifact root>/processing``. (templated)
    :param wait_for_completion: wait for the job to end (default); False returns as soon as it started.
    :param deferrable: wait in the triggerer instead of a worker slot; the job's log is shown on resume.
    :param poll_interval_s: seconds between status reads; default 5.
    :param ec2_settings: with compute="ec2", how instances are launched (see TrainOnEC2Operator). (templated)
    :param aws_conn_id: the Airflow AWS connection used for ``s3://`` locations and EC2; default ``aws_default``.
    """

    template_fields: Sequence[str] = (
        "image_uri",
        "inputs",
        "outputs",
        "entrypoint",
        "arguments",
        "compute",
        "instance_type",
        "instance_count",
        "max_runtime_s",
        "environment",
        "role_arn",
        "secrets",
        "records_uri",
        "ec2_settings",
    )
    template_fields_renderers = {"inputs": "json", "outputs": "json", "environment": "json", "ec2_settings": "json"}
    ui_color = "#e8dcff"
    job_kind = "processing"
    operator_extra_links = (JobLogsLink(), InstancesLink())

    def __init__(
        self,
        *,
        image_uri: str,
        inputs: Sequence[Any] | None = None,
        outputs: Sequence[Any] | None = None,
        entrypoint: list[str] | None = None,
        arguments: list[str] | None = None,
        compute: str = "local",
        instance_type: str = DEFAULT_INSTANCE_TYPE,
        instance_count: int | str = 1,
        volume_size_gb: int = 30,
        max_runtime_s: int | str = DEFAULT_MAX_RUNTIME_S,
        environment: Mapping[str, Any] | None = None,
        enable_network_isolation: bool = False,
        role_arn: str | None = None,
        gpus: int | str | Sequence[str] | None = None,
        shm_size: int | str | None = None,
        secrets: Mapping[str, str] | None = None,
        records_uri: str | None = None,
        wait_for_completion: bool = True,
        deferrable: bool = False,
        poll_interval_s: float = 5.0,
        ec2_settings: Mapping[str, Any] | None = None,
        aws_conn_id: str | None = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            compute=compute, deferrable=deferrable, poll_interval_s=poll_interval_s, aws_conn_id=aws_conn_id, **kwargs
        )
        self.image_uri = image_uri
        self.inputs = inputs
        self.outputs = outputs
        self.entrypoint = entrypoint
        self.arguments = arguments
        self.instance_type = instance_type
        self.instance_count = instance_count
        self.volume_size_gb = volume_size_gb
        self.max_runtime_s = max_runtime_s
        self.environment = environment
        self.enable_network_isolation = enable_network_isolation
        self.role_arn = role_arn
        self.gpus = gpus
        self.shm_size = shm_size
        self.secrets = secrets
        self.records_uri = records_uri
        self.wait_for_completion = wait_for_completion
        self.ec2_settings = ec2_settings
        checks.check_all(
            lambda: checks.check_now(
                {
                    "image_uri": (image_uri, parse_image_ref),
                    "inputs": (inputs, _to_inputs),
                    "outputs": (outputs, _to_outputs),
                    "compute": (compute, check_compute),
                    "instance_count": (instance_count, checks.check_instance_count),
                    "volume_size_gb": (volume_size_gb, lambda v: checks.check_positive_int("volume_size_gb", v)),
                    "max_runtime_s": (max_runtime_s, checks.check_max_runtime_s),
                    "environment": (environment, checks.check_environment),
                    "records_uri": (records_uri, lambda v: parse_uri(v, "records_uri")),
                    "ec2_settings": (ec2_settings, _check_ec2_settings),
                    **checks.sizing_checks(gpus, shm_size),
                    "secrets": (secrets, checks.check_secrets),
                    "role_arn": (role_arn, check_role_arn),
                }
            ),
        )

    @classmethod
    def from_sagemaker(cls, config: Mapping[str, Any], **kwargs: Any) -> ProcessOnEC2Operator:
        """Build the operator from a SageMaker CreateProcessingJob request: the Amazon provider's
        SageMakerProcessingOperator ``config``. A field that cannot be honoured here fails with its name; the
        README's table says what each field does.

        :param config: the request, as botocore's input shape in JSON.
        :param kwargs: more parameters (task_id, compute, records_uri, ...); they win over the config's, and
            ``ec2_settings`` keys are merged over those the config sets.
        """
        from ml_lifecycle.core.sagemaker_api.fields import with_overrides
        from ml_lifecycle.core.sagemaker_api.processing import processing_kwargs

        return cls(**with_overrides(processing_kwargs(config), kwargs))

    def backend_options(self) -> dict[str, Any]:
        """Return what the backend reads beyond the spec: EC2's launch settings (the volume from volume_size_gb)."""
        from ml_lifecycle.core.ec2.settings import MIN_VOLUME_GB

        settings = dict(self.ec2_settings or {})
        settings.setdefault("volume_size_gb", max(int(self.volume_size_gb), MIN_VOLUME_GB))
        return {**super().backend_options(), "ec2_settings": settings}

    def build_spec(self) -> ProcessingSpec:
        """Build the spec from the rendered arguments (the records in the artifact root unless records_uri says)."""
        from ml_lifecycle import settings
        from ml_lifecycle.core.processing_spec import ProcessingSpec

        records_uri = self.records_uri or f"{settings.default_artifact_root().rstrip('/')}/{RECORDS_FOLDER}"
        return ProcessingSpec.build(
            image_uri=self.image_uri,
            records_uri=records_uri,
            inputs=self.inputs,
            outputs=self.outputs,
            entrypoint=self.entrypoint,
            arguments=self.arguments,
            instance_type=self.instance_type,
            instance_count=self.instance_count,
            volume_size_gb=self.volume_size_gb,
            max_runtime_s=self.max_runtime_s,
            environment=self.environment,
            enable_network_isolation=self.enable_network_isolation,
            role_arn=self.role_arn,
            gpus=self.gpus,
            shm_size=self.shm_size,
            secrets=self.secrets,
        )


def _to_inputs(values: Any) -> Any:
    """Validate untemplated inputs at parse time (the spec module loads only then).

    :param values: the inputs.
    """
    from ml_lifecycle.core.processing_spec import to_inputs

    return to_inputs(values)


def _to_outputs(values: Any) -> Any:
    """Validate untemplated outputs at parse time (the spec module loads only then).

    :param values: the outputs.
    """
    from ml_lifecycle.core.processing_spec import to_outputs

    return to_outputs(values)
