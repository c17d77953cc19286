"""Only requests signed with the key of the named Airflow connection get through: unsigned and wrongly signed
requests are refused with AWS's error codes, and nothing is stored or started for them."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid

import pytest
from botocore.exceptions import ClientError
from support.api_server import api_client, processing_request, training_request, tuning_request

pytestmark = pytest.mark.docker


def _nothing_started(s3, docker_client, name: str) -> None:
    """Check that no state and no container exist for a job name.

    :param s3: the S3 client.
    :param docker_client: the engine.
    :param name: the job's name.
    """
    stored = s3.list_objects_v2(Bucket="ml-bucket", Prefix="sagemaker-api/").get("Contents", [])
    assert not [o["Key"] for o in stored if name in o["Key"]]
    assert not docker_client.containers.list(all=True, filters={"label": f"ml-lifecycle.job={name}"})


def _refused_unsigned(api_url: str, operation: str, body: dict) -> None:
    """Send an unsigned SageMaker request and check that it is refused as AWS refuses one.

    :param api_url: the API's URL.
    :param operation: the operation (X-Amz-Target's).
    :param body: the request.
    """
    request = urllib.request.Request(
        api_url + "/",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"SageMaker.{operation}"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 403
    assert json.loads(refused.value.read())["__type"] == "MissingAuthenticationToken"


def test_an_unsigned_request_is_refused_and_starts_nothing(api_url, s3, docker_client, example_image):
    name = f"api-unsigned-{uuid.uuid4().hex[:8]}"
    _refused_unsigned(api_url, "CreateTrainingJob", training_request(name, example_image))
    _nothing_started(s3, docker_client, name)


def test_a_request_signed_with_the_wrong_secret_is_refused_and_starts_nothing(
    api_url, s3, docker_client, example_image
):
    name = f"api-wrongkey-{uuid.uuid4().hex[:8]}"
    client = api_client("sagemaker", api_url, secret="not-the-secret")
    with pytest.raises(ClientError) as refused:
        client.create_training_job(**training_request(name, example_image))
    assert refused.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    _nothing_started(s3, docker_client, name)


def test_a_key_the_connection_does_not_hold_is_refused(api_url):
    import boto3

    client = boto3.client(
        "sagemaker",
        endpoint_url=api_url,
        region_name="us-east-1",
        aws_access_key_id="AKIDSOMEONEELSE",
        aws_secret_access_key="whatever",
    )
    with pytest.raises(ClientError) as refused:
        client.list_training_jobs()
    assert refused.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_runtime_and_logs_requests_are_checked_too(api_url):
    runtime = api_client("sagemaker-runtime", api_url, secret="not-the-secret")
    with pytest.raises(ClientError) as refused:
        runtime.invoke_endpoint(EndpointName="any", Body=b"1,2", ContentType="text/csv")
    assert refused.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    logs = api_client("logs", api_url, secret="not-the-secret")
    with pytest.raises(ClientError) as refused_logs:
        logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs")
    assert refused_logs.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


# The tuning and processing operations: each needs a signature like the others, whatever it asks.
UNSIGNED_OPERATIONS = {
    "CreateHyperParameterTuningJob": lambda name, image: tuning_request(name, image),
    "DescribeHyperParameterTuningJob": lambda name, _: {"HyperParameterTuningJobName": name},
    "StopHyperParameterTuningJob": lambda name, _: {"HyperParameterTuningJobName": name},
    "ListHyperParameterTuningJobs": lambda _name, _image: {},
    "ListTrainingJobsForHyperParameterTuningJob": lambda name, _: {"HyperParameterTuningJobName": name},
    "CreateProcessingJob": lambda name, image: processing_request(name, image),
    "DescribeProcessingJob": lambda name, _: {"ProcessingJobName": name},
    "StopProcessingJob": lambda name, _: {"ProcessingJobName": name},
    "ListProcessingJobs": lambda _name, _image: {},
}


@pytest.mark.parametrize("operation", sorted(UNSIGNED_OPERATIONS))
def test_unsigned_tuning_and_processing_requests_are_refused_and_start_nothing(
    operation, api_url, s3, docker_client, example_image
):
    name = f"api-unsigned-{uuid.uuid4().hex[:8]}"
    _refused_unsigned(api_url, operation, UNSIGNED_OPERATIONS[operation](name, example_image))
    _nothing_started(s3, docker_client, name)
