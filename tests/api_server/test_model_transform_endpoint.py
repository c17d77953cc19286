"""A model trained through the API is batch-transformed and served through it with boto3 unchanged: CreateModel,
CreateTransformJob, CreateEndpointConfig, CreateEndpoint, InvokeEndpoint (sagemaker-runtime), DeleteEndpoint."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError
from support.api_server import ROLE_ARN, ShapeChecker, api_client, training_request
from support.helpers import wait_until

pytestmark = pytest.mark.docker


def _trained_model(sagemaker, s3, image: str, sample_data) -> str:
    """Train through the API and return the model's S3 URI.

    :param sagemaker: the API's client.
    :param s3: the S3 client.
    :param image: the image.
    :param sample_data: the sample data folder.
    """
    for path in sorted((sample_data / "train").iterdir()):
        s3.upload_file(str(path), "ml-bucket", f"data/train/{path.name}")
    name = f"api-train-{uuid.uuid4().hex[:8]}"
    sagemaker.create_training_job(**training_request(name, image))
    sagemaker.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 300}
    )
    return sagemaker.describe_training_job(TrainingJobName=name)["ModelArtifacts"]["S3ModelArtifacts"]


def test_a_model_is_transformed_then_served_and_invoked_through_the_runtime(
    sagemaker, api_url, s3, example_image, sample_data, docker_client
):
    model_uri = _trained_model(sagemaker, s3, example_image, sample_data)
    suffix = uuid.uuid4().hex[:8]
    model = f"api-model-{suffix}"
    sagemaker.create_model(
        ModelName=model,
        PrimaryContainer={"Image": example_image, "ModelDataUrl": model_uri},
        ExecutionRoleArn=ROLE_ARN,
    )
    assert sagemaker.describe_model(ModelName=model)["PrimaryContainer"]["ModelDataUrl"] == model_uri

    for path in sorted((sample_data / "score").iterdir()):
        s3.upload_file(str(path), "ml-bucket", f"data/score/{path.name}")
    transform = f"api-transform-{suffix}"
    sagemaker.create_transform_job(
        TransformJobName=transform,
        ModelName=model,
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://ml-bucket/data/score"}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        TransformOutput={"S3OutputPath": f"s3://ml-bucket/predictions/{transform}", "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
        BatchStrategy="MultiRecord",
    )
    sagemaker.get_waiter("transform_job_completed_or_stopped").wait(
        TransformJobName=transform, WaiterConfig={"Delay": 1, "MaxAttempts": 300}
    )
    described = sagemaker.describe_transform_job(TransformJobName=transform)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    outputs = s3.list_objects_v2(Bucket="ml-bucket", Prefix=f"predictions/{transform}/")["Contents"]
    scored = [o["Key"] for o in outputs if o["Key"].endswith(".out")]
    assert scored, [o["Key"] for o in outputs]
    lines = s3.get_object(Bucket="ml-bucket", Key=scored[0])["Body"].read().decode().splitlines()
    assert lines and all(float(line) == float(line) for line in lines)

    config = f"api-config-{suffix}"
    sagemaker.create_endpoint_config(
        EndpointConfigName=config,
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": model, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
        ],
    )
    endpoint = f"api-endpoint-{suffix}"
    sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=config)
    assert sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] in {"Creating", "InService"}
    sagemaker.get_waiter("endpoint_in_service").wait(
        EndpointName=endpoint, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )
    described_endpoint = sagemaker.describe_endpoint(EndpointName=endpoint)
    assert described_endpoint["ProductionVariants"][0]["VariantName"] == "AllTraffic"
    assert [e["EndpointName"] for e in sagemaker.list_endpoints(NameContains=suffix)["Endpoints"]] == [endpoint]

    runtime = api_client("sagemaker-runtime", api_url)
    runtime_checker = ShapeChecker(runtime)
    row = (sample_data / "score").iterdir().__next__().read_text().splitlines()[0]
    answer = runtime.invoke_endpoint(
        EndpointName=endpoint, Body=row.encode(), ContentType="text/csv", Accept="text/csv", CustomAttributes="trace=1"
    )
    assert answer["InvokedProductionVariant"] == "AllTraffic"
    assert float(answer["Body"].read().decode().strip()) == float(lines[0])
    with pytest.raises(ClientError) as wrong_variant:
        runtime.invoke_endpoint(EndpointName=endpoint, Body=row.encode(), ContentType="text/csv", TargetVariant="B")
    assert wrong_variant.value.response["Error"]["Code"] == "ValidationError"
    with pytest.raises(ClientError) as model_error:
        runtime.invoke_endpoint(EndpointName=endpoint, Body=b"not,a,number", ContentType="text/csv")
    assert model_error.value.response["Error"]["Code"] == "ModelError"
    assert model_error.value.response["OriginalStatusCode"] >= 400
    logs = api_client("logs", api_url)
    log_checker = ShapeChecker(logs)
    group = f"/aws/sagemaker/Endpoints/{endpoint}"
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert [s["logStreamName"].split("/")[0] for s in streams] == ["AllTraffic"]
    served = logs.get_log_events(logGroupName=group, logStreamName=streams[0]["logStreamName"], startFromHead=True)
    assert served["events"], "the serving container's log is empty"
    assert not log_checker.problems, log_checker.problems
    # An update to a config whose variant is named B: the runtime routes by the new config at once (this API forgets
    # what it looked up when it deploys an endpoint; it would otherwise look again only after LOOKUP_TTL_S).
    renamed = f"api-config-b-{suffix}"
    variant_b = {"VariantName": "B", "ModelName": model, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
    sagemaker.create_endpoint_config(EndpointConfigName=renamed, ProductionVariants=[variant_b])
    sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName=renamed)
    wait_until(
        lambda: sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "InService",
        "the update to end",
        timeout_s=120,
    )
    answer = runtime.invoke_endpoint(
        EndpointName=endpoint, Body=row.encode(), ContentType="text/csv", TargetVariant="B"
    )
    assert answer["InvokedProductionVariant"] == "B"

    assert runtime_checker.checked and not runtime_checker.problems, runtime_checker.problems
    sagemaker.delete_endpoint(EndpointName=endpoint)
    sagemaker.get_waiter("endpoint_deleted").wait(EndpointName=endpoint, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    assert not docker_client.containers.list(all=True, filters={"label": f"ml-lifecycle.endpoint={endpoint}"})
    with pytest.raises(ClientError) as gone:
        runtime.invoke_endpoint(EndpointName=endpoint, Body=row.encode(), ContentType="text/csv")
    assert gone.value.response["Error"]["Code"] == "ValidationError"
    sagemaker.delete_endpoint_config(EndpointConfigName=config)
    sagemaker.delete_endpoint_config(EndpointConfigName=renamed)
    sagemaker.delete_model(ModelName=model)
