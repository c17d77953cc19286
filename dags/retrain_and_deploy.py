"""Retrain and deploy: build the image, push it, train, publish the model if it passes the gate, batch-score, serve.

Optional, from the trigger form: split raw data into train/validation with a processing job first, and tune
instead of training once (the best trial's model is the one published).

Runs on the embedded default (the local Docker engine, a registry on 127.0.0.1:5000 and file:// artifacts) with
no AWS account. It runs every Monday at 03:00 UTC, and whenever the training-data Asset is updated (an asset event
from a producer DAG or the REST API). Trigger it from the UI with the form, or run it once with ``make demo``.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, Asset, AssetOrTimeSchedule, CronTriggerTimetable, Param, TriggerRule, task

from ml_lifecycle import (
    BatchTransformOperator,
    BuildImageOperator,
    DeployEndpointOperator,
    ExportArtifactsOperator,
    ProcessOnEC2Operator,
    PushToECROperator,
    TeardownOperator,
    TrainOnEC2Operator,
    TuneOnEC2Operator,
)
from ml_lifecycle.compute import DEFAULT_BACKEND, backend_names
from ml_lifecycle.settings import default_artifact_root

ARTIFACT_ROOT = default_artifact_root().rstrip("/")
EXAMPLE_CONTEXT = os.environ.get(
    "ML_LIFECYCLE_EXAMPLE_CONTEXT",
    str(Path(__file__).resolve().parent.parent / "examples" / "containers" / "linear"),
)
PROCESSING_CONTEXT = str(Path(EXAMPLE_CONTEXT).parent / "processing")
BASE_IMAGE = os.environ.get("BASE_IMAGE", "python:3.11-slim")
MODEL_NAME = "linear"
MODEL_ASSET = Asset(name="linear-model", uri=f"{ARTIFACT_ROOT}/registry/{MODEL_NAME}")
TRAINING_DATA = Asset(name="linear-training-data", uri=f"{ARTIFACT_ROOT}/data/train")
INSTANCE_TYPES = ["ml.m5.large", "ml.m5.xlarge", "ml.c5.xlarge", "ml.c5.2xlarge", "ml.g5.xlarge"]
RUN_FOLDER = "{{ run_id | replace(':', '-') | replace('+', '-') }}"
PROCESSED = f"{ARTIFACT_ROOT}/processed/{RUN_FOLDER}"
METRIC_DEFINITIONS = [
    {"Name": "train_rmse", "Regex": r"train_rmse=([0-9.eE+-]+);"},
    {"Name": "validation_rmse", "Regex": r"validation_rmse=([0-9.eE+-]+);"},
]


def without(hyperparameters: dict[str, Any], *names: str) -> dict[str, Any]:
    """Return the hyperparameters without those named (a Jinja filter: when tuning, the search sets them).

    :param hyperparameters: the form's hyperparameters.
    :param names: the names to drop.
    """
    return {name: value for name, value in hyperparameters.items() if name not in names}


with DAG(
    dag_id="retrain_and_deploy",
    description="Build, push, train, publish, batch-score and deploy the linear example model",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 3 * * 1", timezone="UTC"),
        assets=[TRAINING_DATA],
    ),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    render_template_as_native_obj=True,
    user_defined_filters={"without": without},
    default_args={
        "retries": 2,
        "retry_delay": timedelta(seconds=20),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
    },
    params={
        "compute": Param(
            DEFAULT_BACKEND, enum=list(backend_names()), title="Compute", description="Where the containers run"
        ),
        "instance_type": Param("ml.m5.large", enum=INSTANCE_TYPES, title="Instance type"),
        "instance_count": Param(1, type="integer", minimum=1, maximum=10, title="Instances"),
        "hyperparameters": Param(
            {"l2": "0.01"},
            type="object",
            # What the train task accepts (SageMaker's limits): scalar values, names of 1-256 and values of at most
            # 2500 characters, at most 100 entries.
            additionalProperties={"type": ["string", "number", "boolean"], "maxLength": 2500},
            propertyNames={"minLength": 1, "maxLength": 256},
            maxProperties=100,
            title="Hyperparameters",
            description="Passed to the container as strings in hyperparameters.json",
        ),
        "deploy": Param(True, type="boolean", title="Deploy the endpoint"),
        "quality_threshold": Param(
            1.0,
            type="number",
            minimum=0,
            title="Quality threshold",
            description="The largest validation_rmse a model may have to be published, scored and deployed",
        ),
        "beat_in_service": Param(
            False,
            type="boolean",
            title="Must beat the model in service",
            description="Publish only a model whose validation_rmse is lower than the newest published version's",
        ),
        "endpoint_name": Param(
            "linear",
            type="string",
            # JSON Schema patterns are searched, and "$" also matches before a final newline: refuse newlines first.
            pattern="^(?![\\s\\S]*\\n)[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$",
            maxLength=63,
            title="Endpoint name",
        ),
        "registry": Param(
            "127.0.0.1:5000",
            type="string",
            title="Registry",
            description="An OCI registry host; empty pushes to Amazon ECR",
        ),
        "train_data_uri": Param(f"{ARTIFACT_ROOT}/data/train", type="string", section="Data"),
        "validation_data_uri": Param(f"{ARTIFACT_ROOT}/data/validation", type="string", section="Data"),
        "score_data_uri": Param(f"{ARTIFACT_ROOT}/data/score", type="string", section="Data"),
        "process_raw_data": Param(
            False,
            type="boolean",
            title="Split raw data first",
            description="Run a processing job that splits the raw data into the train and validation channels",
            section="Data",
        ),
        "raw_data_uri": Param(f"{ARTIFACT_ROOT}/data/raw", type="string", title="Raw data", section="Data"),
        "validation_fraction": Param(
            0.2,
            type="number",
            exclusiveMinimum=0,
            exclusiveMaximum=1,
            title="Validation fraction",
            description="The share of the raw rows held out for validation",
            section="Data",
        ),
        "tune": Param(
            False,
            type="boolean",
            title="Tune l2 first",
            description="Search l2 with a tuning job and publish its best trial's model instead of training once",
            section="Tuning",
        ),
        "l2_min": Param(0.0001, type="number", exclusiveMinimum=0, title="Smallest l2", section="Tuning"),
        "l2_max": Param(10.0, type="number", exclusiveMinimum=0, title="Largest l2", section="Tuning"),
        "max_trials": Param(
            4,
            type="integer",
            minimum=1,
            maximum=50,
            title="Trials",
            description="Training jobs in all",
            section="Tuning",
        ),
        "max_parallel_trials": Param(
            2, type="integer", minimum=1, maximum=10, title="Trials at once", section="Tuning"
        ),
    },
    tags=["ml-lifecycle", "sagemaker-contract"],
) as dag:

    @task
    def preflight(**context) -> dict[str, str]:
        """Fail fast, before anything is built or started, when the engine or the data to read is missing."""
        from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine
        from ml_lifecycle.core.uris import parse_uri
        from ml_lifecycle.errors import SpecError
        from ml_lifecycle.stores import store_factory

        params = context["params"]
        if params["tune"] and params["l2_min"] > params["l2_max"]:
            raise SpecError(
                "params.l2_min", f"{params['l2_min']} is above l2_max {params['l2_max']}", "Swap the two in the form"
            )
        DockerEngine().client.ping()
        name = "raw_data_uri" if params["process_raw_data"] else "train_data_uri"
        uri = parse_uri(params[name], f"params.{name}")
        if not store_factory("aws_default")(uri).list_objects(uri):
            raise SpecError(
                f"params.{name}",
                f"{uri} holds no data",
                "Generate the sample (make demo does it, or python examples/data/generate.py --out <artifact root>/data) "
                "or point the form at your data",
            )
        return {name: str(uri)}

    build = BuildImageOperator(
        task_id="build_image",
        context_path=EXAMPLE_CONTEXT,
        repository="ml-lifecycle/linear",
        build_args={"BASE_IMAGE": BASE_IMAGE},
    )
    push = PushToECROperator(
        task_id="push_image",
        image=build.output["image"],
        repository="ml-lifecycle/linear",
        registry="{{ params.registry }}",
    )

    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def process_raw_data(**context) -> bool:
        """Run the processing step only when the form asks for it (skipping it skips nothing after it)."""
        return bool(context["params"]["process_raw_data"])

    build_processing = BuildImageOperator(
        task_id="build_processing_image",
        context_path=PROCESSING_CONTEXT,
        repository="ml-lifecycle/split",
        build_args={"BASE_IMAGE": BASE_IMAGE},
    )
    push_processing = PushToECROperator(
        task_id="push_processing_image",
        image=build_processing.output["image"],
        repository="ml-lifecycle/split",
        registry="{{ params.registry }}",
    )
    split = ProcessOnEC2Operator(
        task_id="split_raw_data",
        image_uri=push_processing.output["image_uri"],
        inputs=[{"name": "raw", "source": "{{ params.raw_data_uri }}", "local_path": "/opt/ml/processing/input"}],
        outputs=[
            {"name": name, "local_path": f"/opt/ml/processing/{name}", "destination": f"{PROCESSED}/{name}"}
            for name in ("train", "validation")
        ],
        arguments=["--validation-fraction={{ params.validation_fraction }}"],
        compute="{{ params.compute }}",
        instance_type="{{ params.instance_type }}",
        max_runtime_s=3600,
    )

    @task(trigger_rule=TriggerRule.NONE_FAILED)
    def training_data(processed: dict[str, Any] | None, **context) -> dict[str, str]:
        """Return the training channels: the processing outputs when it ran, else the form's data locations.

        :param processed: the processing step's result (each output's name -> its URI), None when it was skipped.
        """
        if processed:
            return {"train": processed["train"], "validation": processed["validation"]}
        params = context["params"]
        return {"train": params["train_data_uri"], "validation": params["validation_data_uri"]}

    # What every training job of this run gets, the one training or each tuning trial.
    training_definition: dict[str, Any] = {
        "image_uri": push.output["image_uri"],
        "channels": training_data(split.output),
        "output_path": f"{ARTIFACT_ROOT}/training",
        "compute": "{{ params.compute }}",
        "instance_type": "{{ params.instance_type }}",
        "instance_count": "{{ params.instance_count }}",
        "max_runtime_s": 3600,
        "metric_definitions": METRIC_DEFINITIONS,
    }

    @task.branch
    def train_or_tune(**context) -> str:
        """Tune when the form asks for it, else train once with the form's hyperparameters."""
        return "tune" if context["params"]["tune"] else "train"

    train = TrainOnEC2Operator(task_id="train", hyperparameters="{{ params.hyperparameters }}", **training_definition)
    tune = TuneOnEC2Operator(
        task_id="tune",
        hyperparameters="{{ params.hyperparameters | without('l2') }}",  # the static ones: the search sets l2
        parameter_ranges={
            "ContinuousParameterRanges": [
                {
                    "Name": "l2",
                    "MinValue": "{{ params.l2_min }}",
                    "MaxValue": "{{ params.l2_max }}",
                    "ScalingType": "Logarithmic",
                }
            ]
        },
        objective_metric_name="validation_rmse",
        objective_type="Minimize",
        max_training_jobs="{{ params.max_trials }}",
        max_parallel_training_jobs="{{ params.max_parallel_trials }}",
        **training_definition,
    )

    @task(trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    def model_to_publish(trained: dict[str, Any] | None, tuned: dict[str, Any] | None) -> str:
        """Return the model to publish: the training's, or the best tuning trial's (a skipped task's XCom is None).

        :param trained: the train task's result, None when tuning ran instead.
        :param tuned: the tune task's result, None when it was skipped.
        """
        return (tuned or trained)["model_uri"]

    published = model_to_publish(train.output, tune.output)
    export = ExportArtifactsOperator(
        task_id="export_model",
        model_uri=published,
        model_name=MODEL_NAME,
        registry_uri=f"{ARTIFACT_ROOT}/registry",
        quality_gate={
            "metric": "validation_rmse",
            "max": "{{ params.quality_threshold }}",
            "beat_in_service": "{{ params.beat_in_service }}",
        },
        outlets=[MODEL_ASSET],
    )
    transform = BatchTransformOperator(
        task_id="batch_transform",
        image_uri=push.output["image_uri"],
        model_uri=export.output["model_uri"],
        input_uri="{{ params.score_data_uri }}",
        output_uri=f"{ARTIFACT_ROOT}/predictions/{RUN_FOLDER}",
        content_type="text/csv",
        compute="{{ params.compute }}",
    )

    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def should_deploy(**context) -> bool:
        """Skip the endpoint when the form says not to deploy."""
        return bool(context["params"]["deploy"])

    deploy = DeployEndpointOperator(
        task_id="deploy_endpoint",
        endpoint_name="{{ params.endpoint_name }}",
        image_uri=push.output["image_uri"],
        model_uri=export.output["model_uri"],
        compute="{{ params.compute }}",
    )

    @task
    def smoke_test(endpoint: dict[str, str]) -> str:
        """POST one row to the new endpoint and log the prediction."""
        import urllib.request

        request = urllib.request.Request(
            endpoint["invocations_url"],
            data=b"0.5,1.0,-0.5,2.0,0.0,1.5,-1.0,0.25\n",
            headers={"Content-Type": "text/csv"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            prediction = response.read().decode().strip()
        print(f"Endpoint {endpoint['url']} predicted {prediction}")
        return prediction

    teardown = TeardownOperator(task_id="teardown", compute=[DEFAULT_BACKEND, "{{ params.compute }}"])

    checked = preflight()
    gate = should_deploy()
    checked >> build
    checked >> process_raw_data() >> build_processing
    push >> train_or_tune() >> [train, tune]
    export >> [transform, gate]
    gate >> deploy
    tested = smoke_test(deploy.output)
    [transform, tested] >> teardown.as_teardown(setups=checked)
