"""Extra links: AWS console URLs for s3://, ECR, EC2 and CloudWatch; local paths and URLs for the embedded default."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ml_lifecycle import (
    BatchTransformOperator,
    DeployEndpointOperator,
    ExportArtifactsOperator,
    PushToECROperator,
    TrainOnEC2Operator,
)
from ml_lifecycle.links import (
    EndpointLink,
    ImageLink,
    InstancesLink,
    JobLogsLink,
    ModelVersionLink,
    PredictionsLink,
    TrainingArtifactsLink,
    console_urls,
)

DIGEST = "sha256:" + "ab" * 32
LOCAL = SimpleNamespace(compute="local")
EC2 = SimpleNamespace(compute="ec2")


@pytest.mark.parametrize(
    ("link", "operator", "values", "expected"),
    [
        (
            ImageLink(),
            LOCAL,
            {"image_uri": f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/model@{DIGEST}"},
            "https://eu-west-1.console.aws.amazon.com/ecr/repositories/private/123456789012/team/model"
            f"/_/image/{DIGEST}/details?region=eu-west-1",
        ),
        (
            ImageLink(),
            LOCAL,
            {"image_uri": f"127.0.0.1:5000/ml-lifecycle/linear@{DIGEST}"},
            "http://127.0.0.1:5000/v2/ml-lifecycle/linear/tags/list",
        ),
        (ImageLink(), LOCAL, {"image_uri": "ml-lifecycle/linear:ctx-1"}, ""),
        (
            InstancesLink(),
            EC2,
            {"job_name": "train-1"},
            "https://us-west-2.console.aws.amazon.com/ec2/home?region=us-west-2#Instances:tag:ml-lifecycle.job=train-1",
        ),
        (InstancesLink(), LOCAL, {"job_name": "train-1"}, ""),
        (
            JobLogsLink(),
            SimpleNamespace(compute="ec2", job_kind="training"),
            {"job_name": "train-1"},
            "https://us-west-2.console.aws.amazon.com/cloudwatch/home?region=us-west-2"
            "#logsV2:log-groups/log-group/$252Faws$252Fml-lifecycle$252FTrainingJobs$3FlogStreamNameFilter$3Dtrain-1",
        ),
        (
            JobLogsLink(),
            SimpleNamespace(compute="ec2", job_kind="transform"),
            {"job_name": "score-1"},
            "https://us-west-2.console.aws.amazon.com/cloudwatch/home?region=us-west-2"
            "#logsV2:log-groups/log-group/$252Faws$252Fml-lifecycle$252FTransformJobs$3FlogStreamNameFilter$3Dscore-1",
        ),
        (
            JobLogsLink(),
            SimpleNamespace(compute="local", current_job_name="failed-1"),
            {},
            "file:///ml/logs/jobs/failed-1.log",
        ),
        (
            TrainingArtifactsLink(),
            LOCAL,
            {"model_uri": "file:///a/training/job-1/output/model.tar.gz"},
            "file:///a/training/job-1/output/",
        ),
        (
            TrainingArtifactsLink(),
            EC2,
            {"model_uri": "s3://bucket/training/job-1/output/model.tar.gz"},
            "https://s3.console.aws.amazon.com/s3/buckets/bucket?region=us-west-2"
            "&prefix=training%2Fjob-1%2Foutput%2F&showversions=false",
        ),
        (
            ModelVersionLink(),
            LOCAL,
            {"manifest_uri": "file:///a/registry/linear/3/manifest.json"},
            "file:///a/registry/linear/3/",
        ),
        (PredictionsLink(), LOCAL, {"output_uri": "file:///a/predictions/run"}, "file:///a/predictions/run/"),
        (EndpointLink(), LOCAL, {"url": "http://127.0.0.1:32001"}, "http://127.0.0.1:32001"),
        (ModelVersionLink(), LOCAL, {}, ""),
    ],
)
def test_link_urls(monkeypatch, link, operator, values, expected):
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    monkeypatch.setenv("ML_LIFECYCLE_HOME", "/ml")
    monkeypatch.delenv(console_urls.S3_CONSOLE_ENV, raising=False)
    assert link.url(operator, values) == expected


def test_an_s3_console_template_points_links_at_minio(monkeypatch):
    monkeypatch.setenv(console_urls.S3_CONSOLE_ENV, "http://localhost:9001/browser/{bucket}/{key}")
    url = console_urls.artifact_url("s3://ml/registry/linear/2/", "us-east-1")
    assert url == "http://localhost:9001/browser/ml/registry/linear/2/"


@pytest.mark.parametrize(
    ("operator", "names"),
    [
        (PushToECROperator, ["Image"]),
        (TrainOnEC2Operator, ["Job logs", "Instances", "Training artifacts"]),
        (ExportArtifactsOperator, ["Model version"]),
        (BatchTransformOperator, ["Predictions", "Job logs", "Instances"]),
        (DeployEndpointOperator, ["Endpoint"]),
    ],
)
def test_each_operator_carries_its_links(operator, names):
    assert [link.name for link in operator.operator_extra_links] == names
    assert len({link.xcom_key for link in operator.operator_extra_links}) == len(names)
