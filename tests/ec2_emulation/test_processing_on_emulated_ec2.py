"""ProcessOnEC2Operator(compute="ec2") end to end with the example processing image and its own ENTRYPOINT: moto
launches, the emulator runs the user data as cloud-init would, two instances split their shares of the input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.ec2_emulator import Ec2Emulator
from support.ec2_fixtures import BUCKET, EMULATED_IMAGE_REPOSITORY, INSTANCE_PROFILE, push_to_registry
from support.helpers import task_context

from ml_lifecycle import ProcessOnEC2Operator

pytestmark = pytest.mark.docker


@pytest.fixture(scope="session")
def pushed_processing_image(processing_image: str, registry: str, docker_client: Any) -> str:
    """The example processing image pushed to the local registry, by digest."""
    return push_to_registry(docker_client, processing_image, f"{EMULATED_IMAGE_REPOSITORY}-split")


def test_two_instances_split_their_shares_and_upload_both_outputs_with_the_images_entrypoint(
    aws, emulator: Ec2Emulator, pushed_processing_image: str, sample_data: Path, ml_home: Path
) -> None:
    rows = 0
    for path in sorted((sample_data / "train").iterdir()):
        aws.s3.upload_file(str(path), BUCKET, f"raw/{path.name}")
        rows += len(path.read_text().splitlines())
    outputs = ("train", "validation")
    result = ProcessOnEC2Operator(
        task_id="split",
        compute="ec2",
        image_uri=pushed_processing_image,
        inputs=[
            {
                "name": "raw",
                "source": f"s3://{BUCKET}/raw",
                "local_path": "/opt/ml/processing/input",
                "distribution": "ShardedByS3Key",
            }
        ],
        outputs=[
            {"name": name, "local_path": f"/opt/ml/processing/{name}", "destination": f"s3://{BUCKET}/split/{name}"}
            for name in outputs
        ],
        arguments=["--validation-fraction", "0.25"],  # no entrypoint: the image's own, with these arguments
        instance_count=2,
        records_uri=f"s3://{BUCKET}/records",
        ec2_settings={"instance_profile": INSTANCE_PROFILE},
        max_runtime_s=600,
        poll_interval_s=0.5,
    ).execute(task_context())

    assert {name: result[name] for name in outputs} == {n: f"s3://{BUCKET}/split/{n}" for n in outputs}
    written = 0
    for name in outputs:
        keys = sorted(o["Key"] for o in aws.s3.list_objects_v2(Bucket=BUCKET, Prefix=f"split/{name}/")["Contents"])
        assert keys == [f"split/{name}/algo-1.csv", f"split/{name}/algo-2.csv"]
        for key in keys:
            written += len(aws.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode().splitlines())
    assert written == rows  # each host split its own share: every row once
    record = json.loads(
        aws.s3.get_object(Bucket=BUCKET, Key=f"records/{result['job_name']}/status.json")["Body"].read()
    )
    assert (record["status"], record["kind"], record["hosts"]) == ("Completed", "processing", ["algo-1", "algo-2"])
    assert "Contents" not in aws.s3.list_objects_v2(Bucket=BUCKET, Prefix=f"records/{result['job_name']}/staging/")
    events = aws.logs.get_log_events(
        logGroupName="/aws/ml-lifecycle/ProcessingJobs",
        logStreamName=f"{result['job_name']}/algo-2",
        startFromHead=True,
    )["events"]
    assert any("algo-2:" in e["message"] and "validation rows" in e["message"] for e in events)
