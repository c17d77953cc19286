"""DescribeTrainingJob's response from a job's request and record: it parses with botocore's own parser against
SageMaker's output shape, holds every required member, and says only what the job itself says."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import botocore.session
import pytest
from botocore.parsers import create_parser

from ml_lifecycle.core.sagemaker_api.describe_training import describe_training_job
from ml_lifecycle.core.status import JobRecord

REQUEST: dict[str, Any] = {
    "TrainingJobName": "Churn-2026",
    "AlgorithmSpecification": {"TrainingImage": "img:1", "TrainingInputMode": "File"},
    "RoleArn": "arn:aws:iam::123456789012:role/R",
    "HyperParameters": {"epochs": "3"},
    "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/t"}}}],
    "OutputDataConfig": {"S3OutputPath": "s3://b/out/"},
    "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
}  # fmt: skip
CREATED = datetime(2026, 12, 7, 12, 0, 0, tzinfo=UTC).timestamp()


def _parsed(response: dict[str, Any]) -> dict[str, Any]:
    """Send the response through botocore's JSON 1.1 parser, as a client receives it.

    :param response: the response body.
    """
    shape = botocore.session.get_session().get_service_model("sagemaker").operation_model("DescribeTrainingJob")
    missing = [name for name in shape.output_shape.required_members if name not in response]
    assert missing == [], f"required members missing: {missing}"
    body = json.dumps(response).encode()
    parsed = create_parser("json").parse({"body": body, "headers": {}, "status_code": 200}, shape.output_shape)
    assert "Error" not in parsed
    return parsed


def test_a_job_without_a_record_yet_is_starting_and_names_where_its_model_will_be():
    parsed = _parsed(describe_training_job(REQUEST, None, CREATED, "us-east-1", "123456789012"))
    assert (parsed["TrainingJobStatus"], parsed["SecondaryStatus"]) == ("InProgress", "Starting")
    assert parsed["TrainingJobArn"] == "arn:aws:sagemaker:us-east-1:123456789012:training-job/churn-2026"
    assert parsed["ModelArtifacts"]["S3ModelArtifacts"] == "s3://b/out/Churn-2026/output/model.tar.gz"
    assert parsed["CreationTime"] == datetime(2026, 12, 7, 12, 0, 0, tzinfo=UTC)
    assert parsed["HyperParameters"] == {"epochs": "3"} and parsed["ResourceConfig"]["VolumeSizeInGB"] == 30
    assert "TrainingStartTime" not in parsed and "BillableTimeInSeconds" not in parsed  # not known: not said


@pytest.mark.parametrize(
    ("status", "secondary", "failure"),
    [("Completed", "Completed", ""), ("Failed", "Failed", "AlgorithmError: exit code 3"), ("Stopped", "Stopped", "")],
)
def test_an_ended_job_reports_its_states_times_transitions_and_metrics(status, secondary, failure):
    record = JobRecord(
        job_name="Churn-2026",
        kind="training",
        status=status,
        secondary_status=secondary,
        created_at="2026-12-07T12:00:01Z",
        updated_at="2026-12-07T12:05:00Z",
        ended_at="2026-12-07T12:05:00Z",
        failure_reason=failure,
        metrics={"rmse": 0.25},
        artifacts={"model": "s3://b/out/Churn-2026/output/model.tar.gz"},
        transitions=[
            ["Starting", "2026-12-07T12:00:01Z"],
            ["Downloading", "2026-12-07T12:00:10Z"],
            ["Training", "2026-12-07T12:00:20Z"],
            [secondary, "2026-12-07T12:05:00Z"],
        ],
    )
    parsed = _parsed(describe_training_job(REQUEST, record, CREATED, "us-east-1", "123456789012"))
    assert (parsed["TrainingJobStatus"], parsed["SecondaryStatus"]) == (status, secondary)
    assert parsed.get("FailureReason", "") == failure
    assert [t["Status"] for t in parsed["SecondaryStatusTransitions"]] == [
        "Starting",
        "Downloading",
        "Training",
        secondary,
    ]
    assert parsed["SecondaryStatusTransitions"][0]["EndTime"] == parsed["SecondaryStatusTransitions"][1]["StartTime"]
    assert parsed["TrainingStartTime"] == datetime(2026, 12, 7, 12, 0, 10, tzinfo=UTC)
    assert parsed["TrainingTimeInSeconds"] == 290
    assert parsed["FinalMetricDataList"] == [
        {"MetricName": "rmse", "Value": 0.25, "Timestamp": datetime(2026, 12, 7, 12, 5, tzinfo=UTC)}
    ]
