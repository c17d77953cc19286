"""TrainOnEC2Operator: run a SageMaker training image with ``train`` and put model.tar.gz under output_path."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ml_lifecycle.base import LifecycleOperator
from ml_lifecycle.core import checks
from ml_lifecycle.core.checks import DEFAULT_INSTANCE_TYPE, DEFAULT_MAX_RUNTIME_S
from ml_lifecycle.core.ec2_checks import check_spot_wait
from ml_lifecycle.core.image_ref import parse_image_ref
from ml_lifecycle.core.uris import parse_uri
from ml_lifecycle.errors import JobFailed
from ml_lifecycle.links import InstancesLink, JobLogsLink, TrainingArtifactsLink

if TYPE_CHECKING:  # the specs load when a task runs (or checks untemplated channels), not at DAG parse time
    from ml_lifecycle.core.specs import TrainingSpec

# A deferred wait ends at max_runtime_s plus SIGKILL's 120 s grace, the upload, and this margin.
DEFER_MARGIN_S = 900
LOG_TAIL_LINES = 30


class TrainOnEC2Operator(LifecycleOperator):
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
        "instance_count",
        "max_runtime_s",
        "environment",
        "checkpoint_uri",
        "ec2_settings",
    )
    template_fields_renderers = {
        "hyperparameters": "json",
        "channels": "json",
        "environment": "json",
        "ec2_settings": "json",
    }
    ui_color = "#c9e4ff"
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
        wait_for_completion: bool = True,
        deferrable: bool = False,
        poll_interval_s: float = 5.0,
        ec2_settings: Mapping[str, Any] | None = None,
        use_spot: bool = False,
        max_wait_s: int | None = None,
        aws_conn_id: str | None = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.image_uri = image_uri
        self.channels = channels
        self.output_path = output_path
        self.hyperparameters = hyperparameters
        self.compute = compute
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
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval_s = poll_interval_s
        self.ec2_settings = ec2_settings
        self.use_spot = use_spot
        self.max_wait_s = max_wait_s
        self.aws_conn_id = aws_conn_id
        self._job_name: str | None = None
        checks.check_now(
            {
                "image_uri": (image_uri, parse_image_ref),
                "channels": (channels, _to_channels),
                "output_path": (output_path, lambda v: parse_uri(v, "output_path")),
                "hyperparameters": (hyperparameters, checks.hyperparameters_as_strings),
                "compute": (compute, checks.check_compute),
                "instance_count": (instance_count, checks.check_instance_count),
                "max_runtime_s": (max_runtime_s, checks.check_max_runtime_s),
                "metric_definitions": (metric_definitions, checks.check_metric_definitions),
                "environment": (environment, checks.check_environment),
                "checkpoint_uri": (checkpoint_uri, lambda v: parse_uri(v, "checkpoint_uri")),
                "compression": (compression, lambda v: checks.check_choice("compression", v, ("GZIP", "NONE"))),
                "ec2_settings": (ec2_settings, checks.check_ec2_settings),
            }
        )
        if isinstance(max_runtime_s, int):
            check_spot_wait(use_spot, max_wait_s, max_runtime_s)

    def execute(self, context: Any) -> dict[str, Any]:
        """Start the job (or reattach to, or reuse, this task instance's job), then wait, defer or return."""
        from ml_lifecycle.agent.attempts import choose_attempt
        from ml_lifecycle.runtime import identity_from_context

        spec = self._spec()
        if spec.compute == "ec2":
            from ml_lifecycle.ec2_training_steps import run_on_ec2

            return run_on_ec2(self, spec, identity_from_context(context))
        jobs = self._local_jobs(spec)
        identity = identity_from_context(context)
        attempt = choose_attempt(identity, lambda name: jobs.record(spec, name), jobs.is_running, jobs.abandon)
        self._job_name = attempt.job_name
        if attempt.action == "reuse":
            self.log.info("Training job %s already completed in an earlier try; reusing its outputs", attempt.job_name)
            return self._finish(spec, jobs, attempt.job_name)
        if attempt.action == "attach":
            self.log.info("Reattaching to training job %s, still running from an earlier try", attempt.job_name)
            pid, own_child = int(attempt.record.agent["pid"]), False  # type: ignore[union-attr]
        else:
            pid, own_child = jobs.start(spec, attempt.job_name, identity.labels()), True
            self.log.info("Started training job %s (agent pid %d)", attempt.job_name, pid)
        if not self.wait_for_completion:
            return {"job_name": attempt.job_name, "status": "InProgress", "record_uri": self._record_uri(spec)}
        if self.deferrable:
            self._defer(spec, attempt.job_name)
        jobs.follow(attempt.job_name, pid, self.log.info, own_child=own_child)
        return self._finish(spec, jobs, attempt.job_name)

    def _ec2_jobs(self, spec: TrainingSpec) -> Any:
        """Return the EC2 job manager for this operator's settings.

        :param spec: the training spec (compute="ec2").
        """
        from ml_lifecycle import backends
        from ml_lifecycle.core.ec2_settings import Ec2Settings

        return backends.ec2_training_jobs(
            self.aws_conn_id, Ec2Settings.build(self.ec2_settings), self.use_spot, self.max_wait_s, self.poll_interval_s
        )

    def execute_complete(self, context: Any, event: dict[str, Any], job_name: str) -> dict[str, Any]:
        """Resume after deferral: show the job's log in the task log, then return its outputs or fail.

        :param context: the Airflow context.
        :param event: the trigger's event.
        :param job_name: the job's name.
        """
        from ml_lifecycle.agent.follow import tail

        spec = self._spec()
        if spec.compute == "ec2":
            from ml_lifecycle.ec2_training_steps import resume_on_ec2

            jobs = resume_on_ec2(self, context, event, spec, job_name)
        else:
            jobs = self._local_jobs(spec)
            tail(jobs.log_path(job_name), 0, self.log.info)
        if event.get("status") == "timeout":
            raise JobFailed(job_name, "InProgress", "the wait for the job ran past max_runtime_s plus the grace period")
        if event.get("status") == "lost":
            raise JobFailed(job_name, "Failed", str(event.get("failure_reason") or "its instances ended"))
        return self._finish(spec, jobs, job_name)

    def on_kill(self) -> None:
        """Stop the running job (SIGTERM, then SIGKILL after 120 s, artifacts kept) when the task is killed."""
        if self._job_name is None:
            return
        spec = self._spec()
        if spec.compute == "ec2":
            self.log.info("Stopping training job %s and ending its instances", self._job_name)
            jobs = self._ec2_jobs(spec)
            jobs.stop(spec, self._job_name)
            jobs.clean_up(spec, self._job_name)
            return
        jobs = self._local_jobs(spec)
        record = jobs.record(spec, self._job_name)
        if record is not None:
            self.log.info("Stopping training job %s", self._job_name)
            jobs.stop(record)

    def _local_jobs(self, spec: TrainingSpec) -> Any:
        """Return the job manager for the spec's compute backend.

        :param spec: the training spec.
        """
        from ml_lifecycle import backends

        return backends.training_jobs(spec, self.aws_conn_id)

    def _record_uri(self, spec: TrainingSpec) -> str:
        """Return the URI of this task's job record.

        :param spec: the training spec.
        """
        from ml_lifecycle.agent.records import RECORD_NAME
        from ml_lifecycle.agent.training import job_output_uri

        return str(job_output_uri(spec.output_path, self._job_name or "").join(RECORD_NAME))

    def _defer(self, spec: TrainingSpec, job_name: str, wake_after_epoch_s: float = 0.0) -> None:
        """Hand the wait to the triggerer, bounded by max_runtime_s plus the stop grace and a margin.

        :param spec: the training spec.
        :param job_name: the job's name.
        :param wake_after_epoch_s: with compute="ec2", an Interrupted record written before this does not wake it.
        """
        from ml_lifecycle.triggers.job_record import JobRecordTrigger

        wait_s = spec.max_runtime_s + DEFER_MARGIN_S
        trigger = JobRecordTrigger(
            record_uri=self._record_uri(spec),
            job_name=job_name,
            aws_conn_id=self.aws_conn_id,
            poll_interval_s=self.poll_interval_s,
            deadline_epoch_s=time.time() + wait_s,
            wake_on_secondary=("Interrupted",) if spec.compute == "ec2" else (),
            wake_after_epoch_s=wake_after_epoch_s,
            watch_instances=spec.compute == "ec2",
        )
        self.defer(
            trigger=trigger,
            method_name="execute_complete",
            kwargs={"job_name": job_name},
            timeout=timedelta(seconds=wait_s),
        )

    def _finish(self, spec: TrainingSpec, jobs: Any, job_name: str) -> dict[str, Any]:
        """Read the job's final record and return its outputs, or raise JobFailed with its reason and log tail.

        :param spec: the training spec.
        :param jobs: the job manager.
        :param job_name: the job's name.
        """
        record = jobs.record(spec, job_name)
        if record is None or record.status != "Completed":
            raise JobFailed(
                job_name,
                record.secondary_status if record else "Failed",
                record.failure_reason if record else "the job's agent wrote no record",
                "\n".join(jobs.log_tail(job_name, LOG_TAIL_LINES)),
            )
        return {
            "job_name": record.job_name,
            "status": record.status,
            "model_uri": record.artifacts.get("model", ""),
            "output_uri": record.artifacts.get("output", ""),
            "metrics": record.metrics,
            "image_digest": record.image_digest,
            "record_uri": self._record_uri(spec),
        }

    def _spec(self) -> TrainingSpec:
        """Build the spec from the rendered arguments."""
        from ml_lifecycle.core.specs import TrainingSpec

        return TrainingSpec.build(
            image_uri=self.image_uri,
            channels=self.channels,
            output_path=self.output_path,
            hyperparameters=self.hyperparameters,
            instance_type=self.instance_type,
            instance_count=self.instance_count,
            max_runtime_s=self.max_runtime_s,
            metric_definitions=self.metric_definitions,
            environment=self.environment,
            compute=self.compute,
            entrypoint=self.entrypoint,
            arguments=self.arguments,
            compression=self.compression,
            checkpoint_uri=self.checkpoint_uri,
            enable_network_isolation=self.enable_network_isolation,
        )


def _to_channels(values: Mapping[str, Any]) -> Any:
    """Validate untemplated channels at parse time (the specs module loads only then).

    :param values: channel name -> URI string, Channel, or a dict of Channel fields.
    """
    from ml_lifecycle.core.specs import to_channels

    return to_channels(values)
