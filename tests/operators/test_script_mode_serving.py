"""Script mode end to end on the local engine, with AWS's toolkits from PyPI unchanged: one source folder trains in
a sagemaker-training image, is published with its code, and serves in a sagemaker-inference/multi-model-server image
through a batch transform and a live endpoint, from the version's URI alone or from the folder itself."""

from __future__ import annotations

import json
import tarfile
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from support.framework_image import framework_image
from support.helpers import task_context
from support.serving_image import lifecycle_sources

from ml_lifecycle import (
    BatchTransformOperator,
    DeleteEndpointOperator,
    DeployEndpointOperator,
    ExportArtifactsOperator,
    TrainOnEC2Operator,
)

pytestmark = pytest.mark.docker

ROWS = ["1,2,3", "4,5,6"]


@pytest.fixture(scope="module")
def framework(docker_client: Any, toolkit_image: str) -> str:
    """The framework-like training image, built once for the module."""
    return framework_image(docker_client, toolkit_image)


def _transform(image: str, model_uri: str, tmp_path: Path, out: str, **script_mode: Any) -> list[dict[str, Any]]:
    """Run a transform of ROWS (one request per row) and return the parsed output lines.

    :param image: the serving image.
    :param model_uri: the model.
    :param tmp_path: the test's folder.
    :param out: the output folder's name.
    :param script_mode: entry_point, source_dir, dependencies.
    """
    (tmp_path / "in").mkdir(exist_ok=True)
    (tmp_path / "in" / "rows.csv").write_text("\n".join(ROWS) + "\n")
    BatchTransformOperator(
        task_id="transform",
        image_uri=image,
        model_uri=model_uri,
        input_uri=f"file://{tmp_path}/in",
        output_uri=f"file://{tmp_path}/{out}",
        content_type="text/csv",
        batch_strategy="SingleRecord",
        **script_mode,
    ).execute(task_context(task_id="transform"))
    return [json.loads(line) for line in (tmp_path / out / "rows.csv.out").read_text().splitlines()]


def test_a_source_folder_trains_is_published_with_its_code_and_serves_from_the_versions_uri(
    framework, serving_framework_image, sample_data, tmp_path, ml_home
):
    source, helpers = lifecycle_sources(tmp_path)
    trained = TrainOnEC2Operator(
        task_id="train",
        image_uri=framework,
        channels={"train": f"file://{sample_data}/train"},
        output_path=f"file://{tmp_path}/jobs",
        entry_point="model.py",
        source_dir=str(source),
        dependencies=[str(helpers)],
        max_runtime_s=300,
    ).execute(task_context(task_id="train"))
    scale = sum(1 for path in (sample_data / "train").iterdir() for _ in path.open())

    published = ExportArtifactsOperator(
        task_id="export", model_uri=trained["model_uri"], model_name="churn", registry_uri=f"file://{tmp_path}/reg"
    ).execute(task_context(task_id="export"))
    assert published["code_uri"].startswith(f"file://{tmp_path}/reg/churn/code/")
    assert published["code_uri"].endswith("/sourcedir.tar.gz")

    # The version alone: its manifest names the code and the entry point.
    expected = [{"prediction": scale * 6.0, "tiny": "tiny-ok", "helper": 42}, {"prediction": scale * 15.0}]
    outputs = _transform(serving_framework_image, published["model_uri"], tmp_path, "out")
    assert outputs[0] == expected[0] and outputs[1]["prediction"] == expected[1]["prediction"]

    endpoint = f"ep-{uuid.uuid4().hex[:8]}"
    try:
        deployed = DeployEndpointOperator(
            task_id="deploy",
            endpoint_name=endpoint,
            image_uri=serving_framework_image,
            model_uri=published["model_uri"],
        ).execute(task_context(task_id="deploy"))
        request = urllib.request.Request(
            f"{deployed['url']}/invocations", data=b"1,1,1", headers={"Content-Type": "text/csv"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert json.loads(response.read()) == {"prediction": scale * 3.0, "tiny": "tiny-ok", "helper": 42}
    finally:
        DeleteEndpointOperator(task_id="delete", endpoint_name=endpoint).execute(task_context())


def test_a_folder_serves_a_model_repacked_once_with_dependencies_under_lib(
    serving_framework_image, tmp_path, ml_home, capsys
):
    source, helpers = lifecycle_sources(tmp_path)
    model = tmp_path / "job" / "model.tar.gz"
    model.parent.mkdir()
    (tmp_path / "weights.json").write_text('{"scale": 2}')
    with tarfile.open(model, "w:gz") as tar:
        tar.add(tmp_path / "weights.json", arcname="weights.json")
    script_mode = {"entry_point": "model.py", "source_dir": str(source), "dependencies": [str(helpers)]}

    first = _transform(serving_framework_image, f"file://{model}", tmp_path, "out1", **script_mode)
    assert first[0] == {"prediction": 12.0, "tiny": "tiny-ok", "helper": 42}
    (repacked,) = (tmp_path / "job" / "script-mode").glob("*/model.tar.gz")
    with tarfile.open(repacked) as tar:
        assert "code/lib/helpers/__init__.py" in tar.getnames()
    written = repacked.stat().st_mtime_ns

    second = _transform(serving_framework_image, f"file://{model}", tmp_path, "out2", **script_mode)
    assert second == first
    assert list((tmp_path / "job" / "script-mode").glob("*/model.tar.gz")) == [repacked]
    assert repacked.stat().st_mtime_ns == written  # the store saw no second write
    captured = capsys.readouterr()
    assert "the model repacked with this code is reused" in captured.out + captured.err


def test_sagemaker_configs_of_a_framework_model_in_script_mode_transform_and_deploy_unchanged(
    serving_framework_image, s3, tmp_path, ml_home
):
    from ml_lifecycle.source_code.archive import SourceCode, pack

    source, helpers = lifecycle_sources(tmp_path)
    pack(SourceCode("model.py", str(source)).members(), tmp_path / "sourcedir.tar.gz")
    s3.upload_file(str(tmp_path / "sourcedir.tar.gz"), "ml-bucket", "churn/code/sourcedir.tar.gz")
    (tmp_path / "weights.json").write_text('{"scale": 2}')
    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "weights.json", arcname="weights.json")
        tar.add(helpers, arcname="code/lib/helpers")  # the model may hold code/ already: the archive adds to it
    s3.upload_file(str(tmp_path / "model.tar.gz"), "ml-bucket", "churn/model.tar.gz")
    s3.put_object(Bucket="ml-bucket", Key="churn/in/rows.csv", Body="\n".join(ROWS).encode() + b"\n")
    # CreateModel as the SDK's SKLearnModel makes it (not network-isolated: the container would fetch the code).
    model = {
        "ModelName": "churn",
        "PrimaryContainer": {
            "Image": serving_framework_image,
            "ModelDataUrl": "s3://ml-bucket/churn/model.tar.gz",
            "Environment": {
                "SAGEMAKER_PROGRAM": "model.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": "s3://ml-bucket/churn/code/sourcedir.tar.gz",
                "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
                "SAGEMAKER_REGION": "us-east-1",
            },
        },
    }
    transform = {
        "TransformJobName": "churn-scoring",
        "ModelName": "churn",
        "BatchStrategy": "SingleRecord",
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://ml-bucket/churn/in"}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {"S3OutputPath": "s3://ml-bucket/churn/out", "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    }
    BatchTransformOperator.from_sagemaker({"Model": model, "Transform": transform}, task_id="transform").execute(
        task_context(task_id="transform")
    )
    body = s3.get_object(Bucket="ml-bucket", Key="churn/out/rows.csv.out")["Body"].read().decode()
    assert [json.loads(line)["prediction"] for line in body.splitlines()] == [12.0, 30.0]

    endpoint = f"ep-{uuid.uuid4().hex[:8]}"
    config = {
        "Model": model,
        "EndpointConfig": {
            "EndpointConfigName": "churn",
            "ProductionVariants": [
                {"VariantName": "AllTraffic", "ModelName": "churn", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
            ],
        },
        "Endpoint": {"EndpointName": endpoint, "EndpointConfigName": "churn"},
    }  # fmt: skip
    try:
        deployed = DeployEndpointOperator.from_sagemaker(config, task_id="deploy").execute(
            task_context(task_id="deploy")
        )
        request = urllib.request.Request(
            f"{deployed['url']}/invocations", data=b"1,1,1", headers={"Content-Type": "text/csv"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert json.loads(response.read()) == {"prediction": 6.0, "tiny": "tiny-ok", "helper": 42}
    finally:
        DeleteEndpointOperator(task_id="delete", endpoint_name=endpoint).execute(task_context())
