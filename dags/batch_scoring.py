"""Batch scoring: score the latest data with each new model version, as soon as ExportArtifacts publishes it.

Scheduled by the model Asset that ``retrain_and_deploy`` emits; a manual trigger scores with the newest version.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Asset, Param, task

from ml_lifecycle import BatchTransformOperator, TeardownOperator
from ml_lifecycle.compute import DEFAULT_BACKEND, backend_names
from ml_lifecycle.settings import default_artifact_root

ARTIFACT_ROOT = default_artifact_root().rstrip("/")
MODEL_NAME = "linear"
MODEL_ASSET = Asset(name="linear-model", uri=f"{ARTIFACT_ROOT}/registry/{MODEL_NAME}")
RUN_FOLDER = "{{ run_id | replace(':', '-') | replace('+', '-') }}"

with DAG(
    dag_id="batch_scoring",
    description="Score the scoring data with each newly published version of the linear model",
    schedule=[MODEL_ASSET],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    render_template_as_native_obj=True,
    default_args={
        "retries": 2,
        "retry_delay": timedelta(seconds=20),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
    },
    params={
        "score_data_uri": Param(f"{ARTIFACT_ROOT}/data/score", type="string", title="Data to score"),
        "compute": Param(DEFAULT_BACKEND, enum=list(backend_names()), title="Compute"),
    },
    tags=["ml-lifecycle", "sagemaker-contract"],
) as dag:

    @task(multiple_outputs=True)
    def resolve_model(**context) -> dict[str, str]:
        """Take the model version from the asset event that triggered the run, else the newest published one."""
        import json

        from ml_lifecycle.core.uris import parse_uri
        from ml_lifecycle.plugin.macros import latest_model_manifest
        from ml_lifecycle.stores import store_factory

        events = [e for evs in (context.get("triggering_asset_events") or {}).values() for e in evs]
        manifest_uri = (events[-1].extra or {}).get("manifest_uri") if events else None
        if manifest_uri:
            uri = parse_uri(manifest_uri)
            manifest = json.loads(store_factory("aws_default")(uri).read_bytes(uri))
        else:
            manifest = latest_model_manifest(MODEL_NAME, f"{ARTIFACT_ROOT}/registry")
        print(f"Scoring with {MODEL_NAME} version {manifest['version']} ({manifest['uri']})")
        return {"model_uri": manifest["uri"], "image_uri": manifest["lineage"]["image_uri"]}

    model = resolve_model()
    score = BatchTransformOperator(
        task_id="batch_transform",
        image_uri=model["image_uri"],
        model_uri=model["model_uri"],
        input_uri="{{ params.score_data_uri }}",
        output_uri=f"{ARTIFACT_ROOT}/predictions/scoring/{RUN_FOLDER}",
        content_type="text/csv",
        compute="{{ params.compute }}",
    )
    score >> TeardownOperator(task_id="teardown", compute=[DEFAULT_BACKEND, "{{ params.compute }}"]).as_teardown()
