"""CreateProcessingJob and friends through our API with boto3, unchanged: the split example runs on the local engine
with S3 in moto, its outputs land where the request says, answers match botocore's service model, and its log is
read as the SDK reads it."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from support.api_server import ROLE_ARN, ShapeChecker, api_client, processing_request

pytestmark = pytest.mark.docker

ROWS = "".join(f"{i},{i * 2}\n" for i in range(200))


def _wait(sagemaker: Any, name: str) -> dict[str, Any]:
    """Describe a processing job until it ended (the provider's sensor polls the same way).

    :param sagemaker: the client.
    :param name: the job.
    """
    for _ in range(600):
        described = sagemaker.describe_processing_job(ProcessingJobName=name)
        if described["ProcessingJobStatus"] in ("Completed", "Failed", "Stopped"):
            return described
        time.sleep(0.5)
    raise AssertionError(f"{name} is still {described['ProcessingJobStatus']}")


def test_a_processing_job_runs_to_completion_and_is_described_listed_and_logged(
    sagemaker, api_url, s3, processing_image, docker_client
):
    s3.put_object(Bucket="ml-bucket", Key="raw/rows.csv", Body=ROWS.encode())
    name = f"api-process-{uuid.uuid4().hex[:8]}"

    arn = sagemaker.create_processing_job(**processing_request(name, processing_image))["ProcessingJobArn"]
    described = _wait(sagemaker, name)

    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    assert arn == f"arn:aws:sagemaker:us-east-1:000000000000:processing-job/{name}"
    assert described["ProcessingEndTime"] >= described["ProcessingStartTime"] >= described["CreationTime"]
    assert described["AppSpecification"]["ImageUri"] == processing_image
    train = s3.get_object(Bucket="ml-bucket", Key=f"split/{name}/train/algo-1.csv")["Body"].read().decode()
    validation = s3.get_object(Bucket="ml-bucket", Key=f"split/{name}/validation/algo-1.csv")["Body"].read().decode()
    assert sorted((train + validation).splitlines()) == sorted(ROWS.splitlines())
    assert 0 < len(validation.splitlines()) < len(train.splitlines())
    counts = (len(train.splitlines()), len(validation.splitlines()))
    assert described["ExitMessage"] == "algo-1: {} train rows, {} validation rows\n".format(*counts)
    assert not docker_client.containers.list(all=True, filters={"label": f"ml-lifecycle.job=processing-{name}"})

    listed = sagemaker.list_processing_jobs(NameContains=name, StatusEquals="Completed")["ProcessingJobSummaries"]
    assert [s["ProcessingJobName"] for s in listed] == [name]
    logs = api_client("logs", api_url)
    log_checker = ShapeChecker(logs)
    streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/ProcessingJobs", logStreamNamePrefix=f"{name}/")
    stream = streams["logStreams"][0]["logStreamName"]
    events = logs.get_log_events(
        logGroupName="/aws/sagemaker/ProcessingJobs", logStreamName=stream, startFromHead=True
    )["events"]
    assert any("train rows" in e["message"] for e in events)
    assert not log_checker.problems, "\n".join(log_checker.problems)


def test_a_failing_processing_job_says_why_and_a_stopped_one_ends_stopped(sagemaker, s3, processing_image):
    s3.put_object(Bucket="ml-bucket", Key="raw/rows.csv", Body=ROWS.encode())
    failing = f"api-process-bad-{uuid.uuid4().hex[:8]}"
    request = processing_request(failing, processing_image)
    request["AppSpecification"]["ContainerArguments"] = ["--validation-fraction", "2"]
    sagemaker.create_processing_job(**request)
    stopped = f"api-process-stop-{uuid.uuid4().hex[:8]}"
    request = processing_request(stopped, processing_image)
    # A container that ends on SIGTERM, as SageMaker's stop asks (a bare sleep under sh would wait for SIGKILL).
    request["AppSpecification"]["ContainerEntrypoint"] = ["sh", "-c", "trap 'exit 143' TERM; sleep 600 & wait"]
    sagemaker.create_processing_job(**request)
    sagemaker.stop_processing_job(ProcessingJobName=stopped)

    failed = _wait(sagemaker, failing)
    assert failed["ProcessingJobStatus"] == "Failed"
    assert "--validation-fraction 2.0 is not between 0 and 1" in failed["FailureReason"]
    assert _wait(sagemaker, stopped)["ProcessingJobStatus"] == "Stopped"


def test_a_field_that_cannot_be_honoured_is_refused_by_name_and_nothing_is_stored(sagemaker, processing_image):
    name = f"api-process-refused-{uuid.uuid4().hex[:8]}"
    request = processing_request(name, processing_image)
    request["ProcessingOutputConfig"]["Outputs"][0]["FeatureStoreOutput"] = {"FeatureGroupName": "g"}

    with pytest.raises(sagemaker.exceptions.ClientError, match="FeatureStoreOutput") as raised:
        sagemaker.create_processing_job(**request)
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(sagemaker.exceptions.ClientError, match="does not exist"):
        sagemaker.describe_processing_job(ProcessingJobName=name)


def test_a_location_outside_s3_or_an_unlisted_role_is_refused(sagemaker, processing_image):
    request = processing_request(f"api-process-file-{uuid.uuid4().hex[:8]}", processing_image)
    request["ProcessingInputs"][0]["S3Input"]["S3Uri"] = "file:///etc"
    with pytest.raises(sagemaker.exceptions.ClientError, match="inputs"):
        sagemaker.create_processing_job(**request)
    request = processing_request(f"api-process-role-{uuid.uuid4().hex[:8]}", processing_image)
    request["RoleArn"] = ROLE_ARN.replace("SageMakerRole", "Admin")
    with pytest.raises(sagemaker.exceptions.ClientError, match="RoleArn"):
        sagemaker.create_processing_job(**request)
