"""TrainOnEC2Operator: run a SageMaker training image with ``train`` and put model.tar.gz under output_path."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ml_lifecycle.base import JobOperator
from ml_lifecycle.compute import check_compute
from ml_lifecycle.core import checks
from ml_lifecycle.core.checks import DEFAULT_INSTANCE_TYPE, DEFAULT_MAX_RUNTIME_S
from ml_lifecycle.core.ec2.checks import check_spot_wait
from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.image_ref import parse_image_ref
from ml_lifecycle.core.roles import check_role_arn
from ml_lifecycle.core.uris import parse_uri
from ml_lifecycle.links import InstancesLink, JobLogsLink, TrainingArtifactsLink

if TYPE_CHECKING:  # the specs load when a task runs (or checks untemplated channels), not at DAG parse time
    from ml_lifecycle.core.specs import TrainingSpec


class TrainOnEC2Operator(JobOperator):
    """Train with any SageMaker-compatible image; the hosts exist only while the job runs.

    :param image_uri: the training image (a local image, or one in a registry, pulled when missing). (templated)
    :param channels: channel name -> ``s3://``/``file://`` URI or ml_lifecycle.Channel. (templated)
    :param output_path: outputs go to ``<output_path>/<job>/output/model.tar.gz``. (templated)
    :param hyperparameters: name -> scalar; the container gets them as strings. (templated)
    :param compute: ``local`` (the Docker engine) or ``ec2``. (templated)
    :param instance_type: the instance type; reported to the container as current_instance_type, and on the local
        engine the containers get its memory (swap included) and CPUs (at most the machine's). (templated)
    :param instance_count: the number of hosts, algo-1..N; default 1. (templated)
    :param max_runtime_s: seconds before the job is stopped (SIGTERM, SIGKILL 120 s later); default 1 day.
    :param metric_definitions: ``[{"Name", "Regex"}]`` run over the log; final values go to XCom.
    :param environment: extra container environment variables. (templated)
    :param entrypoint: ContainerEntrypoint override, or None.
    :param arguments: ContainerArguments (replace ``train``), or None.
    :param checkpoint_uri: a prefix synced with /opt/ml/checkpoints: restored at start, uploaded during the run
        (new, changed and deleted files), so a retry resumes from the last checkpoint. (templated)
    :param enable_network_isolation: the containers reach nothing but each other (``--network none`` for one
        host, an internal network for several), as SageMaker's option of that name.
    :param gpus: the GPUs each container gets: None (default) the instance type's (``ml.g5.12xlarge``: 4), a
        count, ``"all"``, or device ids (``["0", "2"]`` or ``"device=0,2"``); 0 runs a GPU type on the CPU, for
        debugging (logged as a warning). On the local engine a job asking for GPUs the engine cannot give fails
        before anything starts.
    :param shm_size: each container's /dev/shm: bytes or e.g. ``"8g"``; default half the instance type's memory.
    :param secrets: environment variable -> where its value is read when the job starts: ``conn:<conn_id>/password``
        (any connection field; ``conn:<conn_id>/extra/<key>`` for an extra), ``var:<key>``,
        ``secretsmanager:<id or ARN>[#<json key>]``, ``ssm:<parameter name>``, or a Secrets Manager or SSM ARN.
        Values reach the container's environment only, never records, XCom, logs or rendered fields; they are
        masked in the task log. With compute="ec2" the instances read Secrets Manager and SSM with their role.
        (templated: the references, not the values)
    :param role_arn: the execution role (SageMaker's RoleArn). Locally the role is assumed through the AWS connection
        and its short-lived credentials are served to the containers as ECS serves them
        (``AWS_CONTAINER_CREDENTIALS_FULL_URI``), renewed before they expire; never in their environment. With
        compute="ec2" the instances run with an instance profile of that role. (templated)
    :param entry_point: script mode: the program to run, relative to source_dir (or a path to it without
        source_dir), as the SageMaker SDK's estimators take it. The code is packed as sourcedir.tar.gz under
        ``<output_path>/source/<sha256>/`` (content-addressed: an unchanged directory is uploaded once), reaches
        the container as the ``code`` channel, and ``sagemaker_program``, ``sagemaker_submit_directory``,
        ``sagemaker_container_log_level``, ``sagemaker_job_name`` and ``sagemaker_region`` tell AWS's framework
        images (their sagemaker-training toolkit) what to run. Hyperparameters are then JSON-encoded, as the SDK
        sends them. (templated)
    :param source_dir: script mode: the folder packed whole (a requirements.txt in it is installed by the
        container's toolkit, as on SageMaker). (templated)
    :param dependencies: script mode: more folders or files put at the archive's root by their base name.
    :param container_log_level: script mode: the toolkit's log level; default 20 (logging.INFO).
    :param compression: ``GZIP`` (model.tar.gz, default) or ``NONE`` (the model files uploaded as they are).
    :param wait_for_completion: wait for the job to end (default); False returns as soon as it started.
    :param deferrable: wait in the triggerer instead of a worker slot; the job's log is shown on resume.
    :param poll_interval_s: seconds between status reads when deferred, and with compute="ec2" between reads of
        the record, the instances and the CloudWatch log; default 5.
    :param ec2_settings: with compute="ec2", how instances are launched: ``ami_id`` (default: the ECS-optimized
        Amazon Linux 2023 AMI from its public SSM parameter, the GPU variant for GPU types), ``launch_template``,
        ``launch_template_version``, ``subnet_id``, ``security_group_ids`` (default: a group of the job's own that
        admits only the job's instances), ``instance_profile``, ``volume_size_gb`` (100), ``volume_type`` (gp3),
        ``kms_key_id``, ``placement_group``, ``extra_tags``. (templated)
    :param use_spot: with compute="ec2", run on spot instances; an interrupted job is relaunched from its last
        checkpoint (give checkpoint_uri) until max_wait_s.
    :param max_wait_s: with use_spot, seconds from the first launch within which interrupted jobs are relaunched;
        at least max_runtime_s; default max_runtime_s.
    :param aws_conn_id: the Airflow AWS connection used for ``s3://`` locations and EC2; default ``aws_default``.
    """

    template_fields: Sequence[str] = (
        "image_uri",
        "channels",
        "output_path",
        "hyperparameters",
        "compute",
        "instance_type",
        "gpus",
        "shm_size",
        "secrets",
        "role_arn",
        "instance_count",
        "max_runtime_s",
        "environment",
        "checkpoint_uri",
        "ec2_settings",
        "entry_point",
        "source_dir",
    )
    template_fields_renderers = {
        "hyperparameters": "json",
        "channels": "json",
        "environment": "json",
        "ec2_settings": "json",
    }
    ui_color = "#c9e4ff"
    job_kind = "training"
    operator_extra_links = (JobLogsLink(), InstancesLink(), TrainingArtifactsLink())

    def __init__(
        self,
        *,
        image_uri: str,
        channels: Mapping[str, Any],
        output_path: str,
        hyperparameters: Mapping[str, Any] | None = None,
        compute: str = "local",
        instance_type: str = DEFAULT_INSTANCE_TYPE,
        instance_count: int | str = 1,
        max_runtime_s: int | str = DEFAULT_MAX_RUNTIME_S,
        metric_definitions: list[dict[str, str]] | None = None,
        environment: Mapping[str, Any] | None = None,
        entrypoint: list[str] | None = None,
        arguments: list[str] | None = None,
        checkpoint_uri: str | None = None,
        enable_network_isolation: bool = False,
        compression: str = "GZIP",
        gpus: int | str | Sequence[str] | None = None,
        shm_size: int | str | None = None,
        secrets: Mapping[str, str] | None = None,
        role_arn: str | None = None,
        entry_point: str | None = None,
        source_dir: str | None = None,
        dependencies: Sequence[str] | None = None,
        container_log_level: int = 20,
        wait_for_completion: bool = True,
        deferrable: bool = False,
        poll_interval_s: float = 5.0,
        ec2_settings: Mapping[str, Any] | None = None,
        use_spot: bool = False,
        max_wait_s: int | None = None,
        aws_conn_id: str | None = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            compute=compute, deferrable=deferrable, poll_interval_s=poll_interval_s, aws_conn_id=aws_conn_id, **kwargs
        )
        self.image_uri = image_uri
        self.channels = channels
        self.output_path = output_path
        self.hyperparameters = hyperparameters
        self.instance_type = instance_type
        self.instance_count = instance_count
        self.max_runtime_s = max_runtime_s
        self.metric_definitions = metric_definitions
        self.environment = environment
        self.entrypoint = entrypoint
        self.arguments = arguments
        self.checkpoint_uri = checkpoint_uri
        self.enable_network_isolation = enable_network_isolation
        self.compression = compression
        self.gpus = gpus
        self.shm_size = shm_size
        self.secrets = secrets
        self.role_arn = role_arn
        self.entry_point = entry_point
        self.source_dir = source_dir
        self.dependencies = list(dependencies or [])
        self.container_log_level = container_log_level
        self.wait_for_completion = wait_for_completion
        self.ec2_settings = ec2_settings
        self.use_spot = use_spot
        self.max_wait_s = max_wait_s
        spot_wait = (
            (lambda: check_spot_wait(use_spot, max_wait_s, max_runtime_s)) if type(max_runtime_s) is int else None
        )
        checks.check_all(
            lambda: checks.check_now(
                {
                    "image_uri": (image_uri, parse_image_ref),
                    "channels": (channels, _to_channels),
                    "output_path": (output_path, lambda v: parse_uri(v, "output_path")),
                    "hyperparameters": (hyperparameters, checks.hyperparameters_as_strings),
                    "compute": (compute, check_compute),
                    "instance_count": (instance_count, checks.check_instance_count),
                    "max_runtime_s": (max_runtime_s, checks.check_max_runtime_s),
                    "metric_definitions": (metric_definitions, checks.check_metric_definitions),
                    "environment": (environment, checks.check_environment),
                    "checkpoint_uri": (checkpoint_uri, lambda v: parse_uri(v, "checkpoint_uri")),
                    "compression": (compression, lambda v: checks.check_choice("compression", v, ("GZIP", "NONE"))),
                    "ec2_settings": (ec2_settings, _check_ec2_settings),
                    **checks.sizing_checks(gpus, shm_size),
                    "secrets": (secrets, checks.check_secrets),
                    "role_arn": (role_arn, check_role_arn),
                }
            ),
            *([spot_wait] if spot_wait else []),
        )

    def backend_options(self) -> dict[str, Any]:
        """Return what the backend reads beyond the spec: EC2's launch settings and spot policy, the poll interval."""
        return {
            **super().backend_options(),
            "ec2_settings": self.ec2_settings,
            "use_spot": self.use_spot,
            "max_wait_s": self.max_wait_s,
        }

    @classmethod
    def from_sagemaker(cls, config: Mapping[str, Any], **kwargs: Any) -> TrainOnEC2Operator:
        """Build the operator from a SageMaker CreateTrainingJob request: the Amazon provider's
        SageMakerTrainingOperator ``config`` (or the SDK's ``sagemaker.workflow.airflow.training_config``). A field
        that cannot be honoured here fails with its name; the README's table says what each field does.

        :param config: the request, as botocore's input shape in JSON.
        :param kwargs: more parameters (task_id, compute, ...); they win over the config's, and ``ec2_settings``
            keys are merged over those the config sets.
        """
        from ml_lifecycle.core.sagemaker_api.fields import with_overrides
        from ml_lifecycle.core.sagemaker_api.training import training_kwargs

        return cls(**with_overrides(training_kwargs(config), kwargs))

    def source_code(self) -> Any:
        """Return the script-mode code (SourceCode), or None without an entry point."""
        if not self.entry_point:
            return None
        from ml_lifecycle.source_code.archive import SourceCode

        return SourceCode(self.entry_point, self.source_dir or None, tuple(self.dependencies))

    def build_spec(self) -> TrainingSpec:
        """Build the spec from the rendered arguments (in script mode, with the code channel and encoding)."""
        from ml_lifecycle.core.specs import TrainingSpec

        channels, hyperparameters, program = self.channels, self.hyperparameters, None
        code = self.source_code()
        if code is not None:
            from ml_lifecycle.core.script_mode import CODE_CHANNEL, encode_hyperparameters, source_prefix
            from ml_lifecycle.source_code.archive import digest_of

            if CODE_CHANNEL in (channels or {}):
                raise SpecError(
                    "channels", f"has a channel named {CODE_CHANNEL!r}", "Rename it: script mode's code travels there"
                )
            prefix = source_prefix(self.output_path, digest_of(code.members()))
            channels = {**channels, CODE_CHANNEL: prefix}
            hyperparameters, program = encode_hyperparameters(hyperparameters), code.program()
        return TrainingSpec.build(
            image_uri=self.image_uri,
            channels=channels,
            output_path=self.output_path,
            hyperparameters=hyperparameters,
            instance_type=self.instance_type,
            instance_count=self.instance_count,
            max_runtime_s=self.max_runtime_s,
            metric_definitions=self.metric_definitions,
            environment=self.environment,
            entrypoint=self.entrypoint,
            arguments=self.arguments,
            compression=self.compression,
            checkpoint_uri=self.checkpoint_uri,
            enable_network_isolation=self.enable_network_isolation,
            gpus=self.gpus,
            shm_size=self.shm_size,
            secrets=self.secrets,
            role_arn=self.role_arn,
            entry_point=program,
            container_log_level=self.container_log_level,
        )

    def stage_inputs(self, spec: TrainingSpec) -> None:
        """Pack and upload the script-mode code when its archive is not under output_path yet.

        :param spec: the job's spec.
        """
        code = self.source_code()
        if code is not None:
            from ml_lifecycle.source_code.archive import ensure_source_archive
            from ml_lifecycle.stores import store_factory

            ensure_source_archive(code, self.output_path, store_factory(self.aws_conn_id), self.log.info)


def _to_channels(values: Mapping[str, Any]) -> Any:
    """Validate untemplated channels at parse time (the specs module loads only then).

    :param values: channel name -> URI string, Channel, or a dict of Channel fields.
    """
    from ml_lifecycle.core.specs import to_channels

    return to_channels(values)


def _check_ec2_settings(values: Any) -> Any:
    """Validate ec2_settings at parse time (the launch-settings module loads only when there are some).

    :param values: setting name -> value.
    """
    from ml_lifecycle.core.ec2.settings import check_ec2_settings

    return check_ec2_settings(values)
