"""TuneOnEC2Operator(compute="ec2"): every trial a training job on its own emulated instance, the state in S3."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from support.ec2_emulator import Ec2Emulator
from support.ec2_fixtures import BUCKET, EMULATED_IMAGE_REPOSITORY, INSTANCE_PROFILE, push_to_registry
from support.helpers import task_context

from ml_lifecycle import TuneOnEC2Operator

pytestmark = pytest.mark.docker


def test_grid_trials_run_on_emulated_instances_and_the_state_is_in_s3(
    aws: SimpleNamespace, emulator: Ec2Emulator, curve_image, registry, docker_client, ml_home
):
    image = push_to_registry(docker_client, curve_image, f"{EMULATED_IMAGE_REPOSITORY}-curve")
    aws.s3.put_object(Bucket=BUCKET, Key="data/train/unused.csv", Body=b"0\n")
    result = TuneOnEC2Operator(
        task_id="tune",
        compute="ec2",
        image_uri=image,
        channels={"train": f"s3://{BUCKET}/data/train"},
        output_path=f"s3://{BUCKET}/tuning",
        instance_type="ml.m5.large",
        hyperparameters={"epochs": 3, "step_s": 0.1},
        metric_definitions=[{"Name": "loss", "Regex": r"loss=([0-9.]+)"}],
        objective_metric_name="loss",
        objective_type="Minimize",
        strategy="Grid",
        parameter_ranges={"CategoricalParameterRanges": [{"Name": "opt", "Values": ["a", "b"]}]},
        max_parallel_training_jobs=2,
        max_runtime_s=600,
        ec2_settings={"instance_profile": INSTANCE_PROFILE},
        poll_interval_s=0.5,
    ).execute(task_context(task_id="tune"))

    key = f"tuning/{result['tuning_job_name']}/tuning-state.json"
    state = json.loads(aws.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    assert sorted(t["hyperparameters"]["opt"] for t in state["trials"]) == ["a", "b"]
    assert [t["status"] for t in state["trials"]] == ["Completed", "Completed"]
    assert {i.job_name for i in emulator.instances.values()} == {t["name"] for t in state["trials"]}
    assert result["best_hyperparameters"] == {"opt": "a"}
    assert result["model_uri"] == f"s3://{BUCKET}/tuning/{result['best_training_job_name']}/output/model.tar.gz"
