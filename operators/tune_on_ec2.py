"""TuneOnEC2Operator: SageMaker's hyperparameter tuning, each trial an ordinary training job on the chosen backend."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from ml_lifecycle.core import checks
from ml_lifecycle.core.templating import is_template
from ml_lifecycle.train_on_ec2 import TrainOnEC2Operator

if TYPE_CHECKING:
    from ml_lifecycle.core.tuning.config import TuningConfig
    from ml_lifecycle.core.tuning.state import Trial
    from ml_lifecycle.tuning.tuner import Tuner

# With early stopping or Hyperband, a deferred task wakes this often (at most) to judge the trials' curves.
DEFAULT_CURVE_CHECK_S = 30.0


class TuneOnEC2Operator(TrainOnEC2Operator):
    """Search hyperparameters as SageMaker's CreateHyperParameterTuningJob does, with Optuna's samplers and pruners.

    The training definition is TrainOnEC2Operator's parameters (image, channels, output_path, metric_definitions,
    compute, instance_type, ...); its ``hyperparameters`` are the static ones. Each trial is a training job named
    ``<tuning-job>-<NNN>-<8 hex>``, its outputs under output_path. The tuning state (every trial, its
    hyperparameters, status, objective and curve) is ``<output_path>/<tuning-job>/tuning-state.json``: a retried or
    resumed task never runs a finished trial again and follows the running ones. ``wait_for_completion`` is ignored:
    the task ends with the tuning job. Returns the best trial (``best_training_job_name``, ``best_hyperparameters``,
    ``objective``, ``metrics``, ``model_uri``), so ExportArtifactsOperator can publish ``model_uri`` directly.

    :param parameter_ranges: SageMaker's ParameterRanges: ``IntegerParameterRanges`` and
        ``ContinuousParameterRanges`` (``Name``, ``MinValue``, ``MaxValue``, ``ScalingType`` Auto, Linear,
        Logarithmic or, continuous only, ReverseLogarithmic; Auto searches linearly) and
        ``CategoricalParameterRanges`` (``Name``, ``Values``). (templated)
    :param objective_metric_name: the metric optimized: the Name of one of metric_definitions; a trial's objective
        is its last value. (templated)
    :param objective_type: ``Maximize`` (default) or ``Minimize``.
    :param strategy: ``Bayesian`` (default; Optuna's TPE), ``Random``, ``Grid`` (categorical ranges only; every
        combination once) or ``Hyperband`` (random proposals, hopeless trials stopped by successive halving).
    :param max_training_jobs: MaxNumberOfTrainingJobs: how many trials in all; required except with Grid, which
        runs its number of combinations. (templated)
    :param max_parallel_training_jobs: MaxParallelTrainingJobs: how many trials run at once; default 1. (templated)
    :param max_tuning_runtime_s: MaxRuntimeInSeconds of the tuning job (120 to 15768000): then its running trials
        are stopped and the best trial so far is the result; default no limit.
    :param early_stopping_type: ``Off`` (default) or ``Auto``: a trial whose running average of the objective falls
        behind the median of the completed trials' at the same step is stopped (after 3 completed trials).
    :param warm_start_config: SageMaker's WarmStartConfig: ``ParentHyperParameterTuningJobs`` (up to 5 tuning jobs
        of the same output_path, by their ``tuning_job_name``) and ``WarmStartType``; their completed trials seed
        the search and compete for the best (the result is then the best of all: SageMaker's OverallBestTrainingJob,
        where its BestTrainingJob is this tuning job's own). (templated)
    :param strategy_config: with Hyperband, ``{"HyperbandStrategyConfig": {"MinResource", "MaxResource"}}`` in
        steps (values of the objective metric); MaxResource defaults to an ``epochs`` static hyperparameter.
    :param random_seed: SageMaker's RandomSeed; default a seed derived from the tuning job's name (so a retry
        proposes the same trials).
    :param curve_check_s: with early stopping or Hyperband, a deferred task wakes at most this often to judge the
        curves; default 30 s.
    :param kwargs: TrainOnEC2Operator's parameters (the training definition) and BaseOperator's.
    """

    template_fields: Sequence[str] = (
        *TrainOnEC2Operator.template_fields,
        "parameter_ranges",
        "objective_metric_name",
        "max_training_jobs",
        "max_parallel_training_jobs",
        "warm_start_config",
    )
    template_fields_renderers = {
        **TrainOnEC2Operator.template_fields_renderers,
        "parameter_ranges": "json",
        "warm_start_config": "json",
    }
    ui_color = "#d9c9ff"
    operator_extra_links = ()

    def __init__(
        self,
        *,
        parameter_ranges: Mapping[str, Any] | str,
        objective_metric_name: str,
        objective_type: str = "Maximize",
        strategy: str = "Bayesian",
        max_training_jobs: int | str | None = None,
        max_parallel_training_jobs: int | str = 1,
        max_tuning_runtime_s: int | None = None,
        early_stopping_type: str = "Off",
        warm_start_config: Mapping[str, Any] | None = None,
        strategy_config: Mapping[str, Any] | None = None,
        random_seed: int | None = None,
        curve_check_s: float = DEFAULT_CURVE_CHECK_S,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.parameter_ranges = parameter_ranges
        self.objective_metric_name = objective_metric_name
        self.objective_type = objective_type
        self.strategy = strategy
        self.max_training_jobs = max_training_jobs
        self.max_parallel_training_jobs = max_parallel_training_jobs
        self.max_tuning_runtime_s = max_tuning_runtime_s
        self.early_stopping_type = early_stopping_type
        self.warm_start_config = warm_start_config
        self.strategy_config = strategy_config
        self.random_seed = random_seed
        self.curve_check_s = curve_check_s
        self._tuner: Tuner | None = None
        settings = (parameter_ranges, objective_metric_name, max_training_jobs, max_parallel_training_jobs)
        if not any(
            is_template(v) for v in (*settings, warm_start_config, self.metric_definitions, self.hyperparameters)
        ):
            checks.check_all(self.tuning_config)

    @classmethod
    def from_sagemaker(cls, config: Mapping[str, Any], **kwargs: Any) -> TuneOnEC2Operator:
        """Build the operator from a SageMaker CreateHyperParameterTuningJob request: the Amazon provider's
        SageMakerTuningOperator ``config``. A field that cannot be honoured here fails with its name; the README's
        table says what each field does.

        :param config: the request, as botocore's input shape in JSON.
        :param kwargs: more parameters (task_id, compute, ...); they win over the config's, and ``ec2_settings``
            keys are merged over those the config sets.
        """
        from ml_lifecycle.core.sagemaker_api.fields import with_overrides
        from ml_lifecycle.core.sagemaker_api.tuning import tuning_kwargs

        return cls(**with_overrides(tuning_kwargs(config), kwargs))

    def tuning_config(self) -> TuningConfig:
        """Build the tuning settings from the rendered parameters, refusing what SageMaker refuses."""
        from ml_lifecycle.core.tuning.config import TuningConfig

        definitions = checks.check_metric_definitions(self.metric_definitions)
        return TuningConfig.build(
            strategy=self.strategy,
            objective_metric_name=self.objective_metric_name,
            objective_type=self.objective_type,
            parameter_ranges=_from_json(self.parameter_ranges),
            metric_names=[name for name, _ in definitions],
            static_hyperparameters=checks.hyperparameters_as_strings(self.hyperparameters),
            max_training_jobs=self.max_training_jobs,
            max_parallel_training_jobs=self.max_parallel_training_jobs,
            max_runtime_s=self.max_tuning_runtime_s,
            early_stopping_type=self.early_stopping_type,
            warm_start_config=_from_json(self.warm_start_config),
            strategy_config=self.strategy_config,
            random_seed=self.random_seed,
        )

    def execute(self, context: Any) -> dict[str, Any]:
        """Start or resume the tuning job, then run it to its end (deferring between trial endings when deferrable)."""
        tuner = self._open(context, stage=True)
        return self._drive(tuner, context)

    def execute_complete(self, context: Any, event: dict[str, Any], **_: Any) -> dict[str, Any]:  # type: ignore[override]
        """Resume after a trial ended (or a curve grew, or the deadline passed): take the next step.

        :param context: the Airflow context.
        :param event: the trigger's event (the state in the store says the rest).
        """
        self.log.info("Woken by %s", event.get("job_name") or event.get("status"))
        return self._drive(self._open(context, stage=False), context)

    def _open(self, context: Any, *, stage: bool) -> Tuner:
        """Build the tuner of this task instance from its stored state (_drive finds its running trials again).

        :param context: the Airflow context.
        :param stage: upload script-mode code first (a fresh start; a resumed task uploaded it already).
        """
        from ml_lifecycle.base import fail_fast_unless_retryable, identity_from_context
        from ml_lifecycle.core.attempts import MAX_ATTEMPTS
        from ml_lifecycle.core.naming import job_name
        from ml_lifecycle.stores import store_factory
        from ml_lifecycle.tuning.tuner import Tuner

        spec = self.build_spec()
        config = self.tuning_config()
        jobs = self.job_backend()
        with fail_fast_unless_retryable():
            jobs.preflight(spec)
            if stage:
                self.stage_inputs(spec)
            identity = identity_from_context(context)
            names = [job_name(identity, attempt) for attempt in range(1, MAX_ATTEMPTS + 1)]
            tuner = Tuner(jobs, spec, config, names, identity.labels(), store_factory(self.aws_conn_id), self.log.info)
            self._tuner = tuner
        return tuner

    def _drive(self, tuner: Tuner, context: Any) -> dict[str, Any]:
        """Step the tuning job until it ends; wait between steps here, or in the triggerer when deferrable.

        :param tuner: the tuning job.
        :param context: the Airflow context (whether a failure is this task's last try).
        """
        # Whatever fails from here on (finding the trials again, a step, handing the wait over) stops the trials
        # when no retry will follow.
        with _stopping_trials_if_final(tuner, context):
            tuner.resume_running()
            while True:
                progress = tuner.step()
                if progress.result is not None:
                    return progress.result
                if self.deferrable:
                    self._defer(tuner, progress.running)
                time.sleep(self.poll_interval_s)

    def _defer(self, tuner: Tuner, running: list[Trial]) -> NoReturn:
        """Hand the wait for the running trials to the triggerer.

        :param tuner: the tuning job.
        :param running: its running trials.
        """
        from ml_lifecycle.compute.lifecycle import DEFER_SLACK_S
        from ml_lifecycle.triggers.tuning_trials import TuningTrialsTrigger

        deadline_epoch_s = tuner.deadline_epoch_s(running)
        judges_curves = self.early_stopping_type == "Auto" or self.strategy == "Hyperband"
        self.defer(
            trigger=TuningTrialsTrigger(
                record_uris=tuner.record_uris(running),
                compute=self.compute,
                aws_conn_id=self.aws_conn_id,
                poll_interval_s=self.poll_interval_s,
                deadline_epoch_s=deadline_epoch_s,
                objective_metric=self.objective_metric_name,
                seen_points={t.name: len(t.series) for t in running},
                curve_check_s=self.curve_check_s if judges_curves else None,
                lost_grace_s=tuner.trials.jobs.lost_grace_s,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=max(deadline_epoch_s - time.time(), 0.0) + DEFER_SLACK_S),
        )

    def on_kill(self) -> None:
        """Stop the running trials (what they saved is kept) when the task is killed; a retry starts the next ones."""
        if self._tuner is not None:
            self._tuner.stop_all("the tuning task was killed")


@contextmanager
def _stopping_trials_if_final(tuner: Tuner, context: Any) -> Iterator[None]:
    """Let an error of the tuning loop through, after stopping the running trials when no retry will follow it (the
    error is not retryable, or this is the task's last try): nothing else would ever stop them. The error is kept.

    :param tuner: the tuning job.
    :param context: the Airflow context.
    """
    from ml_lifecycle.base import fail_fast_unless_retryable, is_last_try
    from ml_lifecycle.compute.lifecycle import keeping_error

    try:
        with fail_fast_unless_retryable():
            yield
    except Exception as err:
        from airflow.sdk.exceptions import AirflowFailException

        if isinstance(err, AirflowFailException) or is_last_try(context):
            why = f"the tuning task failed for good: {err}"
            keeping_error(lambda: tuner.stop_all(why), f"Stopping the trials of {tuner.state.tuning_job_name}")
        raise


def _from_json(value: Any) -> Any:
    """Read a setting rendered from a template as JSON text (Jinja renders strings); other values pass as they are.

    :param value: a mapping, or its JSON text.
    """
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value  # the check that follows names the parameter and what to write
