"""Training with s3:// channels, output and checkpoints through the Airflow AWS connection (moto server)."""

from __future__ import annotations

import io
import json
import tarfile

import boto3
import pytest
from support.helpers import task_context

from ml_lifecycle import TrainOnEC2Operator

pytestmark = pytest.mark.docker


@pytest.fixture
def s3(moto_server, monkeypatch):
    """A boto3 S3 client on the moto server, with aws_default pointing there too."""
    connection = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"endpoint_url": moto_server, "region_name": "us-east-1"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))
    client = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    client.create_bucket(Bucket="ml-bucket")
    return client


def test_trains_from_s3_to_s3_with_checkpoints(example_image, sample_data, s3, ml_home):
    for path in sorted((sample_data / "train").iterdir()):
        s3.upload_file(str(path), "ml-bucket", f"data/train/{path.name}")
    s3.put_object(Bucket="ml-bucket", Key="ckpt/resume.ckpt", Body=b"resume here")
    script = "cp /opt/ml/checkpoints/resume.ckpt /opt/ml/model/ && echo new > /opt/ml/checkpoints/new.ckpt && train"
    op = TrainOnEC2Operator(
        task_id="train",
        image_uri=example_image,
        channels={"train": "s3://ml-bucket/data/train"},
        output_path="s3://ml-bucket/training",
        checkpoint_uri="s3://ml-bucket/ckpt",
        entrypoint=["sh", "-c", script],
        arguments=[],
    )
    result = op.execute(task_context())

    assert result["model_uri"] == f"s3://ml-bucket/training/{result['job_name']}/output/model.tar.gz"
    body = s3.get_object(Bucket="ml-bucket", Key=f"training/{result['job_name']}/output/model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert {"model.json", "resume.ckpt"} <= set(tar.getnames())
    assert s3.get_object(Bucket="ml-bucket", Key="ckpt/new.ckpt")["Body"].read() == b"new\n"
    record = json.loads(
        s3.get_object(Bucket="ml-bucket", Key=f"training/{result['job_name']}/status.json")["Body"].read()
    )
    assert record["status"] == "Completed"
    assert record["inputs"]["train"]["objects"] == 4
    assert all(len(etag) >= 32 for etag in record["inputs"]["train"]["etags"].values())
