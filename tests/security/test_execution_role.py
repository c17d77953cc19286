"""role_arn on the local engine: containers reach S3 with the role's short-lived credentials through the default boto3
chain, served as ECS serves them, with no key in their environment; the key is then nowhere but inside the container.

The S3 here is a moto server listening on every address of this machine, so containers reach it through their
gateway (the connection names it on 127.0.0.1; containers are told AWS_ENDPOINT_URL_S3 with the gateway instead).
moto hands out credentials for any role and checks neither AssumeRole permissions nor request signatures: that the
role may do what the job does is not tested here, only that the container's SDK finds and uses its credentials.
"""

from __future__ import annotations

import json
import tarfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from support.helpers import inspected_on_start, task_context
from support.moto import AWS_TEST_ENV, AWS_UNSET_ENV, start_moto, stop

from ml_lifecycle import TrainOnEC2Operator
from ml_lifecycle.compute.local.credentials.server import check_credentials_address
from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.roles import CREDENTIALS_ENV, TOKEN_ENV

pytestmark = pytest.mark.docker

ROLE_ARN = "arn:aws:iam::123456789012:role/service-role/ml-training"
BUCKET = "role-bucket"
REGION = "us-east-1"
# Runs in the toolkit image (boto3 installed, unchanged): reads one object, writes one, and reports what it used.
READ_AND_WRITE_S3 = """
import json, os, boto3
assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} & set(os.environ), "keys in env"
session = boto3.Session()
s3 = session.client("s3")
body = s3.get_object(Bucket="role-bucket", Key="in/hello.txt")["Body"].read()
s3.put_object(Bucket="role-bucket", Key="out/from-container.txt", Body=body.upper())
credentials = session.get_credentials()
frozen = credentials.get_frozen_credentials()
with open("/opt/ml/model/seen.json", "w") as out:
    json.dump({"method": credentials.method, "access_key": frozen.access_key, "secret_key": frozen.secret_key,
               "endpoint": s3.meta.endpoint_url}, out)
"""


READ_CONTAINER_CREDENTIALS = """
import os, urllib.request
request = urllib.request.Request(
    os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"],
    headers={"Authorization": os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]},
)
print(urllib.request.urlopen(request, timeout=10).read().decode())
"""


def _why_no_credentials_address() -> str | None:
    """Say why this machine cannot serve on the credentials address, or None when it can."""
    try:
        check_credentials_address()
    except SpecError as err:
        return str(err)
    return None


@pytest.fixture(scope="module")
def reachable_moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto server listening on every address (containers reach it through their gateway); yields its 127.0.0.1 URL."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name, value in AWS_TEST_ENV.items():
            monkeypatch.setenv(name, value)
        for name in AWS_UNSET_ENV:
            monkeypatch.delenv(name, raising=False)
        process, endpoint_url = start_moto(tmp_path_factory.mktemp("moto") / "moto.log", listen="0.0.0.0")
        try:
            yield endpoint_url
        finally:
            stop(process)


@pytest.fixture
def role_connection(reachable_moto: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """aws_default on the moto server, a bucket holding in/hello.txt; returns an S3 client."""
    if why := _why_no_credentials_address():
        if __import__("os").environ.get("CI"):
            pytest.fail(f"CI runs scripts/bootstrap.sh credentials: {why}")
        pytest.skip(why)
    for name, value in AWS_TEST_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEFAULT",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"endpoint_url": reachable_moto, "region_name": REGION},
            }
        ),
    )
    s3 = boto3.client("s3", endpoint_url=reachable_moto, region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="in/hello.txt", Body=b"hello from s3")
    return s3


def test_a_training_container_reaches_s3_with_the_role_and_its_key_is_nowhere_else(
    role_connection, toolkit_image, sample_data, tmp_path, ml_home, docker_client, capfd, caplog
):
    with inspected_on_start(docker_client, kind="training") as started:
        result = TrainOnEC2Operator(
            task_id="train",
            image_uri=toolkit_image,
            channels={"train": f"file://{sample_data}/train"},
            output_path=f"file://{tmp_path / 'out'}",
            entrypoint=["python3", "-c", READ_AND_WRITE_S3],
            role_arn=ROLE_ARN,
            max_runtime_s=300,
        ).execute(task_context(task_id="train"))
    inspections = [json.dumps(i) for i in started]

    assert role_connection.get_object(Bucket=BUCKET, Key="out/from-container.txt")["Body"].read() == b"HELLO FROM S3"
    model = tmp_path / "out" / result["job_name"] / "output" / "model.tar.gz"
    with tarfile.open(model) as tar:
        seen = json.loads(tar.extractfile("seen.json").read())  # type: ignore[union-attr]
    assert seen["method"] == "container-role"  # botocore's name for AWS_CONTAINER_CREDENTIALS_FULL_URI
    assert seen["access_key"].startswith("ASIA")  # temporary credentials, as AssumeRole gives
    assert seen["endpoint"].startswith("http://") and "127.0.0.1" not in seen["endpoint"]
    secret = seen["secret_key"]
    assert len(secret) >= 20 and secret != "testing"

    captured = capfd.readouterr()
    places = {
        "docker inspect": "\n".join(inspections),
        "xcom": json.dumps(result),
        "stdout": captured.out,
        "stderr": captured.err,
        "task log": caplog.text,
        **{
            str(path): path.read_bytes().decode("utf-8", "replace")
            for folder in (ml_home, tmp_path / "out")
            for path in Path(folder).rglob("*")
            if path.is_file() and path != model
        },
    }
    assert inspections, "no training container was inspected"
    assert [place for place, text in places.items() if secret in text or seen["access_key"] in text] == []
    assert all("AWS_CONTAINER_CREDENTIALS_FULL_URI=http://169.254.170.2:" in i for i in inspections)


def test_a_role_that_cannot_be_assumed_fails_before_anything_starts(
    role_connection, example_image, sample_data, tmp_path, ml_home, monkeypatch
):
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEFAULT",
        json.dumps({"conn_type": "aws", "extra": {"endpoint_url": "http://127.0.0.1:9", "region_name": REGION}}),
    )
    with pytest.raises(
        SpecError, match=r"role_arn: .*ml-training could not be assumed .*Let the connection's identity"
    ):
        TrainOnEC2Operator(
            task_id="train",
            image_uri=example_image,
            channels={"train": f"file://{sample_data}/train"},
            output_path=f"file://{tmp_path / 'out'}",
            role_arn=ROLE_ARN,
        ).execute(task_context(task_id="train"))
    assert not (tmp_path / "out").exists()


def test_a_local_endpoint_serves_the_role_to_its_containers_for_as_long_as_they_run(
    role_connection, example_image, tmp_path, ml_home, docker_client
):
    from support.models import linear_model_archive

    from ml_lifecycle import DeleteEndpointOperator, DeployEndpointOperator

    model = linear_model_archive(tmp_path / "model" / "model.tar.gz", [1.0] * 8)
    DeployEndpointOperator(
        task_id="deploy", endpoint_name="ep-role", image_uri=example_image, model_uri=model, role_arn=ROLE_ARN
    ).execute(task_context())
    try:
        (container,) = docker_client.containers.list(
            filters={"label": ["ml-lifecycle.endpoint=ep-role", "ml-lifecycle.revision"]}
        )
        environment = dict(e.split("=", 1) for e in container.attrs["Config"]["Env"])
        assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} & set(environment)
        # What any AWS SDK in the container does with AWS_CONTAINER_CREDENTIALS_FULL_URI: ask it, with the token.
        code, out = container.exec_run(["python3", "-c", READ_CONTAINER_CREDENTIALS])
        assert code == 0, out.decode()
        credentials = json.loads(out)
        assert credentials["AccessKeyId"].startswith("ASIA") and credentials["Expiration"]
    finally:
        DeleteEndpointOperator(task_id="delete", endpoint_name="ep-role").execute(task_context())
    # Its revision gone, the credentials agent ends itself and nothing answers on its address any more.
    request = urllib.request.Request(environment[CREDENTIALS_ENV], headers={"Authorization": environment[TOKEN_ENV]})
    deadline_s = time.monotonic() + 60
    while time.monotonic() < deadline_s:
        try:
            urllib.request.urlopen(request, timeout=2).read()
        except OSError:
            break
        time.sleep(0.5)
    else:
        pytest.fail("the credentials of the deleted endpoint are still served")


def test_a_transform_container_is_given_the_credentials_endpoint_and_no_key(
    role_connection, example_image, tmp_path, ml_home, docker_client
):
    from support.models import linear_model_archive

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "part.csv").write_text("1,1,1,1,1,1,1,1\n")
    model = linear_model_archive(tmp_path / "model" / "model.tar.gz", [1.0] * 8)
    from ml_lifecycle import BatchTransformOperator

    with inspected_on_start(docker_client, kind="transform") as inspections:
        result = BatchTransformOperator(
            task_id="transform",
            image_uri=example_image,
            model_uri=model,
            input_uri=f"file://{tmp_path}/in",
            output_uri=f"file://{tmp_path}/out",
            content_type="text/csv",
            role_arn=ROLE_ARN,
        ).execute(task_context(task_id="transform"))
    assert result["status"] == "Completed"
    (inspection,) = inspections
    env = inspection["Config"]["Env"]
    assert any(e.startswith("AWS_CONTAINER_CREDENTIALS_FULL_URI=http://169.254.170.2:") for e in env)
    assert any(e.startswith("AWS_CONTAINER_AUTHORIZATION_TOKEN=") for e in env)
    assert not [
        e for e in env if e.split("=", 1)[0] in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
    ]


def test_a_processing_container_reaches_s3_with_the_role_and_no_key_is_in_its_environment(
    role_connection, toolkit_image, tmp_path, ml_home, docker_client
):
    from ml_lifecycle import ProcessOnEC2Operator

    script = READ_AND_WRITE_S3.replace("/opt/ml/model/", "/opt/ml/processing/report/").replace(
        "out/from-container.txt", "out/from-processing.txt"
    )
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "read_and_write.py").write_text(script)  # ContainerEntrypoint strings hold 256 characters
    with inspected_on_start(docker_client, kind="processing") as started:
        result = ProcessOnEC2Operator(
            task_id="process",
            image_uri=toolkit_image,
            inputs=[{"name": "code", "source": f"file://{tmp_path}/code", "local_path": "/opt/ml/processing/code"}],
            outputs=[
                {
                    "name": "report",
                    "local_path": "/opt/ml/processing/report",
                    "destination": f"file://{tmp_path}/report",
                }
            ],
            entrypoint=["python3", "/opt/ml/processing/code/read_and_write.py"],
            role_arn=ROLE_ARN,
            max_runtime_s=300,
        ).execute(task_context(task_id="process"))
    inspections = [json.dumps(i) for i in started]

    assert result["status"] == "Completed"
    assert role_connection.get_object(Bucket=BUCKET, Key="out/from-processing.txt")["Body"].read() == b"HELLO FROM S3"
    seen = json.loads((tmp_path / "report" / "seen.json").read_text())
    assert seen["method"] == "container-role" and seen["access_key"].startswith("ASIA")
    assert inspections and all("AWS_CONTAINER_CREDENTIALS_FULL_URI=http://169.254.170.2:" in i for i in inspections)
    assert not [i for i in inspections if seen["secret_key"] in i or seen["access_key"] in i]
