"""BatchTransformOperator: run the serving image over every input object, writing ``<key>.out`` under output_uri."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ml_lifecycle.base import JobOperator, backend_of
from ml_lifecycle.compute import check_compute
from ml_lifecycle.core import checks
from ml_lifecycle.core.checks import (
    DEFAULT_INSTANCE_TYPE,
    DEFAULT_MAX_RUNTIME_S,
    SUPPORTED_SPLIT_TYPES,
    ec2_instance_type,
)
from ml_lifecycle.core.image_ref import parse_image_ref
from ml_lifecycle.core.roles import check_role_arn
from ml_lifecycle.core.script_mode import DEFAULT_LOG_LEVEL, check_entry_point
from ml_lifecycle.core.templating import is_template
from ml_lifecycle.core.uris import parse_uri
from ml_lifecycle.links import InstancesLink, JobLogsLink, PredictionsLink
from ml_lifecycle.source_code.serving_operator import SCRIPT_MODE_TEMPLATE_FIELDS, ScriptModeServing

if TYPE_CHECKING:  # the specs load when a task runs, not at DAG parse time
    from ml_lifecycle.core.specs import TransformSpec


class BatchTransformOperator(ScriptModeServing, JobOperator):
    """Bring serving containers up, transform S3 or file input to output, bring them down.

    :param image_uri: the serving image (run with ``serve``). (templated)
    :param model_uri: the model.tar.gz unpacked under /opt/ml/model. (templated)
    :param input_uri: the prefix (or object) to transform; listed recursively. (templated)
    :param output_uri: where ``<relative input key>.out`` objects are written. (templated)
    :param content_type: the Content-Type of each request, e.g. ``text/csv``. (templated)
    :param accept: the Accept header of each request, or None. (templated)
    :param split_type: ``Line`` (default), ``None`` (the whole object is one record), ``RecordIO`` or ``TFRecord``
        (SingleRecord sends each record's data; MultiRecord sends records with their framing).
    :param batch_strategy: ``MultiRecord`` or ``SingleRecord``; None asks the container, then MultiRecord.
    :param max_payload_mb: the most MB per request (1-100); 0 sends each object whole as one request whose body
        streams with chunked encoding (each record alone with SingleRecord and a split_type), for containers that
        read chunked bodies; None asks the container, then 6.
    :param max_concurrent_transforms: requests in flight per instance; None asks the container, then 1.
    :param assemble_with: ``Line`` (a newline after each response) or ``None``.
    :param environment: extra container environment variables. (templated)
    :param instance_count: serving containers the input objects are split across; default 1.
    :param invocation_timeout_s: the time one request may take; default 600.
    :param max_retries: retries of a failed request (0-3); default 3.
    :param compute: ``local`` (the Docker engine) or ``ec2`` (instances launched for the transform and ended after
        it; every location must be ``s3://`` and the image in a registry). (templated)
    :param aws_conn_id: the Airflow AWS connection used for ``s3://`` locations and EC2; default ``aws_default``.
    :param instance_type: the type of each of the instance_count hosts; default ``ml.m5.large``. (templated)
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
    :param max_runtime_s: seconds the transform may run before it is stopped (it fails as MaxRuntimeExceeded); EC2
        instances also end themselves after this plus 15 min, even if Airflow is gone; default 1 day.
    :param ec2_settings: with compute="ec2", how instances are launched (as TrainOnEC2Operator's: ``ami_id``,
        ``launch_template``, ``subnet_id``, ``security_group_ids``, ``instance_profile``, ...). (templated)
    :param poll_interval_s: seconds between reads of the record (with compute="ec2" also the instances and the
        CloudWatch log) when waiting; default 5.
    :param deferrable: wait in the triggerer instead of a worker slot; the job's log is shown, and what it ran on
        removed, when the task resumes.
    :param data_type: ``S3Prefix`` (default: every object below input_uri) or ``ManifestFile`` (input_uri is a
        manifest, ``[{"prefix": "s3://bucket/prefix/"}, "key1", ...]``).
    :param compression_type: ``None`` (default) or ``Gzip``: objects are decompressed as they stream in.
    :param input_filter: a JSONPath (SageMaker's subset) choosing what each record sends, e.g. ``$[1:]``,
        ``$.features``; None sends whole records.
    :param join_source: ``Input`` writes each output joined with its input record (CSV: appended columns; JSON: a
        ``SageMakerOutput`` attribute); ``None`` (default) writes outputs alone.
    :param output_filter: a JSONPath choosing what is written per record, e.g. ``$[0,-1]``,
        ``$['id','SageMakerOutput']``; None writes everything.
    :param entry_point: script mode: the inference program (``model_fn``, ``input_fn``, ``predict_fn``,
        ``output_fn`` for AWS's framework images), relative to source_dir, as the SDK's framework models take it.
        The model is repacked with the code under ``code/`` (dependencies under ``code/lib/``) as the SDK does,
        kept beside the model under ``script-mode/<sha256>/`` (content-addressed: repacked once), and the
        containers get SAGEMAKER_PROGRAM, SAGEMAKER_SUBMIT_DIRECTORY (/opt/ml/model/code),
        SAGEMAKER_CONTAINER_LOG_LEVEL and SAGEMAKER_REGION. Without it, a registry version that keeps its code
        (ExportArtifactsOperator of a script-mode training job) serves with that code. (templated)
    :param source_dir: script mode: the folder put under code/ whole (a requirements.txt in it is installed by the
        container's toolkit). (templated)
    :param dependencies: script mode: more folders or files put under code/lib/. (templated)
    :param container_log_level: script mode: the toolkit's log level; default 20 (logging.INFO).
    :param use_version_code: serve a registry version that keeps its code with that code (default); False serves the
        model as it is.
    """

    template_fields: Sequence[str] = (
        "image_uri",
        "model_uri",
        "input_uri",
        "output_uri",
        "content_type",
        "accept",
        "environment",
        "compute",
        "instance_type",
        "gpus",
        "shm_size",
        "secrets",
        "role_arn",
        "ec2_settings",
        *SCRIPT_MODE_TEMPLATE_FIELDS,
    )
    template_fields_renderers = {"environment": "json", "ec2_settings": "json"}
    ui_color = "#d4f1d4"
    job_kind = "transform"
    operator_extra_links = (PredictionsLink(), JobLogsLink(), InstancesLink())

    def __init__(
        self,
        *,
        image_uri: str,
        model_uri: str,
        input_uri: str,
        output_uri: str,
        content_type: str | None = None,
        accept: str | None = None,
        split_type: str = "Line",
        batch_strategy: str | None = "MultiRecord",
        max_payload_mb: int | None = 6,
        max_concurrent_transforms: int | None = None,
        assemble_with: str = "Line",
        environment: Mapping[str, Any] | None = None,
        instance_count: int = 1,
        invocation_timeout_s: int = 600,
        max_retries: int = 3,
        compute: str = "local",
        aws_conn_id: str | None = "aws_default",
        data_type: str = "S3Prefix",
        compression_type: str = "None",
        input_filter: str | None = None,
        join_source: str = "None",
        output_filter: str | None = None,
        instance_type: str = DEFAULT_INSTANCE_TYPE,
        gpus: int | str | Sequence[str] | None = None,
        shm_size: int | str | None = None,
        secrets: Mapping[str, str] | None = None,
        role_arn: str | None = None,
        max_runtime_s: int = DEFAULT_MAX_RUNTIME_S,
        ec2_settings: Mapping[str, Any] | None = None,
        poll_interval_s: float = 5.0,
        deferrable: bool = False,
        entry_point: str | None = None,
        source_dir: str | None = None,
        dependencies: Sequence[str] | None = None,
        container_log_level: int = DEFAULT_LOG_LEVEL,
        use_version_code: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            compute=compute, deferrable=deferrable, poll_interval_s=poll_interval_s, aws_conn_id=aws_conn_id, **kwargs
        )
        self.init_script_mode(entry_point, source_dir, dependencies, container_log_level, use_version_code)
        self.image_uri = image_uri
        self.model_uri = model_uri
        self.input_uri = input_uri
        self.output_uri = output_uri
        self.content_type = content_type
        self.accept = accept
        self.split_type = split_type
        self.batch_strategy = batch_strategy
        self.max_payload_mb = max_payload_mb
        self.max_concurrent_transforms = max_concurrent_transforms
        self.assemble_with = assemble_with
        self.environment = environment
        self.instance_count = instance_count
        self.invocation_timeout_s = invocation_timeout_s
        self.max_retries = max_retries
        self.data_type = data_type
        self.compression_type = compression_type
        self.input_filter = input_filter
        self.join_source = join_source
        self.output_filter = output_filter
        self.instance_type = instance_type
        self.gpus = gpus
        self.shm_size = shm_size
        self.secrets = secrets
        self.role_arn = role_arn
        self.max_runtime_s = max_runtime_s
        self.ec2_settings = ec2_settings
        checks.check_all(
            lambda: checks.check_now(
                {
                    "image_uri": (image_uri, parse_image_ref),
                    "model_uri": (model_uri, lambda v: parse_uri(v, "model_uri")),
                    "input_uri": (input_uri, lambda v: parse_uri(v, "input_uri")),
                    "output_uri": (output_uri, lambda v: parse_uri(v, "output_uri")),
                    "split_type": (
                        split_type,
                        lambda v: checks.check_choice("split_type", v, SUPPORTED_SPLIT_TYPES),
                    ),
                    "environment": (environment, checks.check_environment),
                    "compute": (compute, check_compute),
                    "instance_count": (instance_count, checks.check_instance_count),
                    "data_type": (
                        data_type,
                        lambda v: checks.check_choice("data_type", v, ("S3Prefix", "ManifestFile")),
                    ),
                    "compression_type": (
                        compression_type,
                        lambda v: checks.check_choice("compression_type", v, ("None", "Gzip")),
                    ),
                    "input_filter": (input_filter, lambda v: _parse_jsonpath(v, "input_filter")),
                    "output_filter": (output_filter, lambda v: _parse_jsonpath(v, "output_filter")),
                    "join_source": (join_source, lambda v: checks.check_choice("join_source", v, ("None", "Input"))),
                    "instance_type": (instance_type, ec2_instance_type),
                    **checks.sizing_checks(gpus, shm_size),
                    "secrets": (secrets, checks.check_secrets),
                    "role_arn": (role_arn, check_role_arn),
                    "max_runtime_s": (max_runtime_s, checks.check_max_runtime_s),
                    "batch_strategy": (
                        batch_strategy,
                        lambda v: checks.check_choice("batch_strategy", v, ("MultiRecord", "SingleRecord")),
                    ),
                    "max_payload_mb": (
                        max_payload_mb,
                        lambda v: checks.check_positive_int("max_payload_mb", v, 0, 100),
                    ),
                    "max_concurrent_transforms": (
                        max_concurrent_transforms,
                        lambda v: checks.check_positive_int("max_concurrent_transforms", v, 0, 100),
                    ),
                    "assemble_with": (
                        assemble_with,
                        lambda v: checks.check_choice("assemble_with", v, ("None", "Line")),
                    ),
                    "invocation_timeout_s": (
                        invocation_timeout_s,
                        lambda v: checks.check_positive_int("invocation_timeout_s", v, 1, 3600),
                    ),
                    "max_retries": (max_retries, lambda v: checks.check_positive_int("max_retries", v, 0, 3)),
                    "ec2_settings": (ec2_settings, _check_ec2_settings),
                    "entry_point": (entry_point, check_entry_point),
                }
            ),
            self._check_data_processing,
        )

    def _check_data_processing(self) -> None:
        """Validate input_filter, join_source and output_filter with the formats they depend on, at parse time."""
        if not any(
            is_template(v) for v in (self.max_payload_mb, self.batch_strategy, self.split_type) if v is not None
        ):
            checks.check_streamed_split(self.max_payload_mb, self.split_type, self.batch_strategy)
        values = (self.content_type, self.accept, self.split_type, self.assemble_with)
        if any(v is not None and is_template(v) for v in values):
            return  # the paths are checked already; the rules that need the formats wait for execute()
        if (
            self.input_filter in (None, "$")
            and self.output_filter in (None, "$")
            and self.join_source in (None, "None")
        ):
            return  # nothing to process: keep DAG parsing free of the JSONPath machinery
        from ml_lifecycle.core.data_processing import data_processing_of

        processing = data_processing_of(self)
        if not any(is_template(v) for v in (self.max_payload_mb, self.batch_strategy) if v is not None):
            checks.check_streamed_processing(
                self.max_payload_mb, self.split_type, self.batch_strategy, processing is not None
            )

    def backend_options(self) -> dict[str, Any]:
        """Return what the backend reads beyond the spec: EC2's launch settings, the poll interval."""
        return {**super().backend_options(), "ec2_settings": self.ec2_settings}

    @classmethod
    def from_sagemaker(cls, config: Mapping[str, Any], **kwargs: Any) -> BatchTransformOperator:
        """Build the operator from the Amazon provider's SageMakerTransformOperator config: ``{"Model": <CreateModel
        request>, "Transform": <CreateTransformJob request>}`` (the SDK's ``transform_config`` makes one). A field
        that cannot be honoured here fails with its name; the README's table says what each field does.

        :param config: the config, as botocore's input shapes in JSON.
        :param kwargs: more parameters (task_id, compute, ...); they win over the config's, and ``ec2_settings``
            keys are merged over those the config sets.
        """
        from ml_lifecycle.core.sagemaker_api.fields import with_overrides
        from ml_lifecycle.core.sagemaker_api.transform import transform_kwargs

        return cls(**with_overrides(transform_kwargs(config), kwargs))

    def serving(self) -> Any:
        """Return the model and environment the containers get (in script mode, the repacked model)."""
        return self.serving_plan(lambda: backend_of(self.compute, self.aws_conn_id, self.backend_options()).region())

    def resume_state(self) -> dict[str, Any]:
        """Keep the model and environment the containers got (a resumed task does not plan them again)."""
        plan = self.serving()
        return {"serving": {"model_uri": plan.model_uri, "environment": plan.environment}}

    def restore_state(self, state: dict[str, Any]) -> None:
        """Take back the model and environment the job was started with.

        :param state: what resume_state returned.
        """
        if "serving" in state:
            from ml_lifecycle.source_code.serving import ServingPlan

            serving = state["serving"]
            self._serving_plan = ServingPlan(serving["model_uri"], dict(serving["environment"]), serving["model_uri"])

    def stage_inputs(self, spec: TransformSpec) -> None:
        """Repack the model with the script-mode code unless that was done before.

        :param spec: the job's spec.
        """
        self.stage_serving_code(self.serving(), self.log.info)

    def build_spec(self) -> TransformSpec:
        """Build the spec from the rendered arguments."""
        from ml_lifecycle.core.container_resources import size_in_bytes
        from ml_lifecycle.core.gpus import canonical_gpus
        from ml_lifecycle.core.specs import TransformSpec

        serving = self.serving()
        return TransformSpec(
            image_uri=self.image_uri,
            model_uri=serving.model_uri,
            input_uri=self.input_uri,
            output_uri=self.output_uri,
            content_type=self.content_type,
            accept=self.accept,
            split_type=self.split_type,  # type: ignore[arg-type]
            batch_strategy=self.batch_strategy,  # type: ignore[arg-type]
            max_payload_mb=self.max_payload_mb,
            max_concurrent_transforms=self.max_concurrent_transforms,
            assemble_with=self.assemble_with,  # type: ignore[arg-type]
            environment=serving.environment,
            instance_count=checks.check_instance_count(self.instance_count),
            invocation_timeout_s=self.invocation_timeout_s,
            max_retries=self.max_retries,
            instance_type=self.instance_type,
            gpus=canonical_gpus(self.gpus),
            shm_size_bytes=size_in_bytes(self.shm_size) if self.shm_size not in (None, "") else None,
            secrets=checks.check_secrets(self.secrets),
            role_arn=check_role_arn(self.role_arn),
            max_runtime_s=checks.check_max_runtime_s(self.max_runtime_s),
            data_type=self.data_type,  # type: ignore[arg-type]
            compression_type=self.compression_type,  # type: ignore[arg-type]
            input_filter=self.input_filter,
            join_source=self.join_source,  # type: ignore[arg-type]
            output_filter=self.output_filter,
        )


def _parse_jsonpath(value: str, parameter: str) -> Any:
    """Parse a JSONPath filter (imported on use, so DAGs without filters parse faster).

    :param value: the JSONPath.
    :param parameter: the parameter name used in error messages.
    """
    from ml_lifecycle.core.jsonpath import parse_jsonpath

    return parse_jsonpath(value, parameter)


def _check_ec2_settings(values: Any) -> Any:
    """Validate ec2_settings at parse time (the launch-settings module loads only when there are some).

    :param values: setting name -> value.
    """
    from ml_lifecycle.core.ec2.settings import check_ec2_settings

    return check_ec2_settings(values)
