"""BatchTransformOperator(compute="ec2") end to end: moto launches, the emulator boots the instances' user data."""

from __future__ import annotations

import json
import tarfile
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from support.ec2_emulator import Ec2Emulator
from support.helpers import task_context
from support.models import linear_model_archive

from ml_lifecycle import BatchTransformOperator
from ml_lifecycle.errors import SpecError, TransformFailed

pytestmark = pytest.mark.docker

BUCKET = "ml-bucket"
INSTANCE_PROFILE = "ml-lifecycle-instance"
WEIGHTS = [1.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5]


def _rows(count: int, offset: int = 0) -> list[list[float]]:
    """Make feature rows whose predictions are easy to compute.

    :param count: how many rows.
    :param offset: the value of the first feature of the first row.
    """
    return [[float(offset + i), 1.0, 0, 0, 0, 0, 0, 2.0] for i in range(count)]


def _expected(rows: list[list[float]]) -> list[float]:
    """Predict rows with WEIGHTS and an intercept of 0.5.

    :param rows: feature rows.
    """
    return [sum(w * x for w, x in zip(WEIGHTS, row, strict=True)) + 0.5 for row in rows]


def _csv(rows: list[list[float]]) -> bytes:
    """Write rows as CSV.

    :param rows: the rows.
    """
    return "".join(",".join(str(v) for v in row) + "\n" for row in rows).encode()


def _model(aws: SimpleNamespace, tmp_path: Path) -> str:
    """Put a model.tar.gz of the known linear model in moto's S3 and return its URI.

    :param aws: the moto clients.
    :param tmp_path: a scratch folder.
    """
    archive = linear_model_archive(tmp_path / "model.tar.gz", WEIGHTS, intercept=0.5).removeprefix("file://")
    aws.s3.upload_file(archive, BUCKET, "models/linear/model.tar.gz")
    return f"s3://{BUCKET}/models/linear/model.tar.gz"


def _operator(image: str, model: str, prefix: str = "", **extra: Any) -> BatchTransformOperator:
    """Build an EC2 transform operator reading s3://ml-bucket/<prefix>score and writing s3://ml-bucket/<prefix>scored.

    :param image: the image by digest.
    :param model: the model archive's URI.
    :param prefix: the test's own key prefix (the moto server outlives each test).
    :param extra: overrides.
    """
    args: dict[str, Any] = {
        "task_id": "transform",
        "compute": "ec2",
        "image_uri": image,
        "model_uri": model,
        "input_uri": f"s3://{BUCKET}/{prefix}score",
        "output_uri": f"s3://{BUCKET}/{prefix}scored",
        "content_type": "text/csv",
        "max_runtime_s": 600,
        "ec2_settings": {"instance_profile": INSTANCE_PROFILE},
        "poll_interval_s": 0.5,
    }
    args.update(extra)
    return BatchTransformOperator(**args)


def _keys(aws: SimpleNamespace, prefix: str) -> list[str]:
    """List the bucket's keys below a prefix.

    :param aws: the moto clients.
    :param prefix: the key prefix.
    """
    pages = aws.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def _states(aws: SimpleNamespace, job_name: str) -> list[str]:
    """Return the states of the job's instances in moto.

    :param aws: the moto clients.
    :param job_name: the job's name.
    """
    pages = aws.ec2.describe_instances(Filters=[{"Name": "tag:ml-lifecycle.job", "Values": [job_name]}])
    return [i["State"]["Name"] for r in pages["Reservations"] for i in r["Instances"]]


def _launched(aws: SimpleNamespace) -> tuple[int, int]:
    """Count the instances and security groups moto holds (the moto server outlives each test).

    :param aws: the moto clients.
    """
    reservations = aws.ec2.describe_instances()["Reservations"]
    return sum(len(r["Instances"]) for r in reservations), len(aws.ec2.describe_security_groups()["SecurityGroups"])


def _assert_nothing_left(aws: SimpleNamespace, prefix: str, job_name: str, instance_count: int) -> None:
    """Check that the job's instances are terminated and its security group and staging objects are gone.

    :param aws: the moto clients.
    :param prefix: the test's key prefix.
    :param job_name: the job's name.
    :param instance_count: how many instances it launched.
    """
    assert _states(aws, job_name) == ["terminated"] * instance_count
    groups = aws.ec2.describe_security_groups(Filters=[{"Name": "tag:ml-lifecycle.job", "Values": [job_name]}])
    assert groups["SecurityGroups"] == []
    folder = f"{prefix}scored/.ml-lifecycle/{job_name}/"
    assert _keys(aws, folder) == [f"{folder}status.json"]


def _assert_all_ended(emulator: Ec2Emulator) -> None:
    """Check every instance ended (the emulator, when it stops, waits for their containers to go).

    :param emulator: the emulator.
    """
    for instance in list(emulator.instances.values()):
        emulator.wait_ended(instance)


def test_two_instances_share_the_inputs_and_go_away(
    aws, emulator: Ec2Emulator, pushed_image, ml_home, tmp_path, docker_client
):
    prefix = f"{uuid.uuid4().hex[:8]}/"
    inputs = {"a.csv": _rows(300), "b.csv": _rows(5, offset=50), "nested/c.csv": _rows(7, offset=100)}
    for key, rows in inputs.items():
        aws.s3.put_object(Bucket=BUCKET, Key=f"{prefix}score/{key}", Body=_csv(rows))

    result = _operator(pushed_image, _model(aws, tmp_path), prefix, instance_count=2).execute(task_context())

    job = result["job_name"]
    assert result["status"] == "Completed"
    for key, rows in inputs.items():
        body = aws.s3.get_object(Bucket=BUCKET, Key=f"{prefix}scored/{key}.out")["Body"].read().decode()
        assert [float(v) for v in body.splitlines()] == pytest.approx(_expected(rows))
    outputs = [k for k in _keys(aws, f"{prefix}scored/") if "/.ml-lifecycle/" not in k]
    assert outputs == sorted(f"{prefix}scored/{key}.out" for key in inputs)
    record_key = f"{prefix}scored/.ml-lifecycle/{job}/status.json"
    record = json.loads(aws.s3.get_object(Bucket=BUCKET, Key=record_key)["Body"].read())
    assert (record["status"], record["hosts"], record["exit_codes"]) == (
        "Completed",
        ["algo-1", "algo-2"],
        {"algo-1": 0, "algo-2": 0},
    )
    assert result["metrics"]["records"] == 312
    assert len(emulator.instances) == 2
    _assert_nothing_left(aws, prefix, job, 2)
    streams = aws.logs.describe_log_streams(logGroupName="/aws/ml-lifecycle/TransformJobs", logStreamNamePrefix=job)
    assert sorted(s["logStreamName"] for s in streams["logStreams"]) == [f"{job}/algo-1", f"{job}/algo-2"]
    _assert_all_ended(emulator)


def test_a_bad_file_fails_the_task_by_name_and_the_instances_go_away(
    aws, emulator: Ec2Emulator, pushed_image, ml_home, tmp_path, docker_client
):
    prefix = f"{uuid.uuid4().hex[:8]}/"
    aws.s3.put_object(Bucket=BUCKET, Key=f"{prefix}score/good.csv", Body=_csv(_rows(5)))
    aws.s3.put_object(Bucket=BUCKET, Key=f"{prefix}score/bad.csv", Body=b"1,2,not-a-number\n")
    operator = _operator(pushed_image, _model(aws, tmp_path), prefix, instance_count=2, max_retries=0)

    with pytest.raises(TransformFailed, match=r"Failed: algo-\d: bad\.csv: ") as failure:
        operator.execute(task_context())

    assert "good.csv" not in str(failure.value).split("\n")[0]
    job = operator.current_job_name
    assert job is not None
    assert _keys(aws, f"{prefix}scored/good.csv.out") == [f"{prefix}scored/good.csv.out"]
    assert _keys(aws, f"{prefix}scored/bad.csv") == []
    record_key = f"{prefix}scored/.ml-lifecycle/{job}/status.json"
    record = json.loads(aws.s3.get_object(Bucket=BUCKET, Key=record_key)["Body"].read())
    assert record["status"] == "Failed" and "bad.csv" in record["failure_reason"]
    _assert_nothing_left(aws, prefix, job, 2)
    _assert_all_ended(emulator)


@pytest.mark.parametrize(
    ("parameter", "value"),
    [("input_uri", "file:///tmp/score"), ("model_uri", "file:///tmp/model.tar.gz"), ("output_uri", "file:///tmp/o")],
)
def test_a_local_location_is_refused_before_anything_launches(aws, pushed_image, ml_home, parameter, value):
    operator = _operator(pushed_image, f"s3://{BUCKET}/models/linear/model.tar.gz", **{parameter: value})
    before = _launched(aws)

    with pytest.raises(SpecError, match=rf"^{parameter}: .* an EC2 instance cannot read. Use an s3:// URI"):
        operator.execute(task_context())

    assert _launched(aws) == before


def test_an_image_without_a_registry_is_refused_before_anything_launches(aws, ml_home):
    operator = _operator("linear:latest", f"s3://{BUCKET}/models/linear/model.tar.gz")
    before = _launched(aws)

    with pytest.raises(SpecError, match=r"^image_uri: .* names no registry"):
        operator.execute(task_context())

    assert _launched(aws) == before


@pytest.mark.parametrize(
    ("parameter", "value", "message"),
    [
        ("max_runtime_s", 0, r"^max_runtime_s: "),
        ("instance_type", "large please", r"^instance_type: 'large please' is not an instance type"),
        ("ec2_settings", {"volume_size_gb": 100, "nonsense": 1}, r"nonsense"),
    ],
)
def test_ec2_settings_are_checked_when_the_dag_is_parsed(parameter, value, message):
    with pytest.raises(SpecError, match=message):
        _operator("127.0.0.1:5000/linear:1", f"s3://{BUCKET}/model.tar.gz", **{parameter: value})


def _through_the_trigger(operator: BatchTransformOperator, context: dict[str, Any]) -> dict[str, Any]:
    """Execute a deferrable operator, run its trigger as the triggerer would (rebuilt from its serialized form),
    and resume the task with the event.

    :param operator: the deferrable operator.
    :param context: the task context.
    """
    import asyncio

    from airflow.sdk.exceptions import TaskDeferred

    from ml_lifecycle.triggers.job_record import JobRecordTrigger

    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    classpath, kwargs = deferred.value.trigger.serialize()
    assert classpath == "ml_lifecycle.triggers.job_record.JobRecordTrigger"

    async def first_event() -> Any:
        return await JobRecordTrigger(**kwargs).run().__anext__()

    event = asyncio.run(first_event())
    return operator.execute_complete(context, event.payload, **deferred.value.kwargs)


def test_a_deferred_transform_waits_in_the_trigger_and_its_instances_go_away(
    aws, emulator: Ec2Emulator, pushed_image, ml_home, tmp_path, docker_client
):
    prefix = f"{uuid.uuid4().hex[:8]}/"
    rows = _rows(40)
    aws.s3.put_object(Bucket=BUCKET, Key=f"{prefix}score/a.csv", Body=_csv(rows))
    operator = _operator(pushed_image, _model(aws, tmp_path), prefix, deferrable=True)

    result = _through_the_trigger(operator, task_context())

    assert result["status"] == "Completed"
    body = aws.s3.get_object(Bucket=BUCKET, Key=f"{prefix}scored/a.csv.out")["Body"].read().decode()
    assert [float(v) for v in body.splitlines()] == pytest.approx(_expected(rows))
    _assert_nothing_left(aws, prefix, result["job_name"], 1)
    _assert_all_ended(emulator)


def test_a_deferred_transform_that_fails_names_the_file_and_its_instances_go_away(
    aws, emulator: Ec2Emulator, pushed_image, ml_home, tmp_path, docker_client
):
    prefix = f"{uuid.uuid4().hex[:8]}/"
    aws.s3.put_object(Bucket=BUCKET, Key=f"{prefix}score/bad.csv", Body=b"1,2,not-a-number\n")
    operator = _operator(pushed_image, _model(aws, tmp_path), prefix, deferrable=True, max_retries=0)

    with pytest.raises(TransformFailed, match=r"Failed: algo-1: bad\.csv: "):
        _through_the_trigger(operator, task_context())

    assert operator.current_job_name is not None
    _assert_nothing_left(aws, prefix, operator.current_job_name, 1)
    _assert_all_ended(emulator)


def test_a_deferred_transform_whose_instances_vanish_fails_as_lost_and_cleans_up(
    aws, emulator: Ec2Emulator, pushed_image, ml_home, tmp_path, docker_client
):
    import asyncio

    from airflow.sdk.exceptions import TaskDeferred

    from ml_lifecycle.triggers.job_record import JobRecordTrigger

    prefix = f"{uuid.uuid4().hex[:8]}/"
    aws.s3.put_object(Bucket=BUCKET, Key=f"{prefix}score/a.csv", Body=_csv(_rows(40)))
    operator = _operator(pushed_image, _model(aws, tmp_path), prefix, deferrable=True)
    context = task_context()
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    job_name = deferred.value.kwargs["job_name"]
    # The instances go before their agent could write anything (as when EC2 reclaims them): EC2 says terminated.
    ids = [
        i["InstanceId"]
        for r in aws.ec2.describe_instances(Filters=[{"Name": "tag:ml-lifecycle.job", "Values": [job_name]}])[
            "Reservations"
        ]
        for i in r["Instances"]
    ]
    aws.ec2.terminate_instances(InstanceIds=ids)
    _classpath, kwargs = deferred.value.trigger.serialize()
    assert kwargs["compute"] == "ec2"
    kwargs["lost_grace_s"] = 1.0  # 30 s in production: S3's visibility of a record written just before the end

    async def first_event() -> Any:
        return await JobRecordTrigger(**kwargs).run().__anext__()

    event = asyncio.run(first_event()).payload
    assert event["status"] == "lost"
    with pytest.raises(TransformFailed, match="its instances ended before the agent wrote a final record"):
        operator.execute_complete(context, event, **deferred.value.kwargs)
    groups = aws.ec2.describe_security_groups(Filters=[{"Name": "tag:ml-lifecycle.job", "Values": [job_name]}])
    assert groups["SecurityGroups"] == []
    _assert_all_ended(emulator)


def test_a_published_script_mode_version_transforms_on_instances_with_its_code_through_s3(
    aws, emulator: Ec2Emulator, pushed_serving_image, ml_home, tmp_path
):
    from support.serving_image import lifecycle_sources

    from ml_lifecycle.source_code.archive import SourceCode, pack
    from ml_lifecycle.stores import store_factory
    from ml_lifecycle.stores.model_registry import publish

    prefix = f"{uuid.uuid4().hex[:8]}/"
    (tmp_path / "weights.json").write_text('{"scale": 5}')
    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "weights.json", arcname="weights.json")
    aws.s3.upload_file(str(tmp_path / "model.tar.gz"), BUCKET, f"{prefix}job/output/model.tar.gz")
    source, helpers = lifecycle_sources(tmp_path)
    pack(SourceCode("model.py", str(source), (str(helpers),)).members(), tmp_path / "sourcedir.tar.gz")
    aws.s3.upload_file(str(tmp_path / "sourcedir.tar.gz"), BUCKET, f"{prefix}job/source/sourcedir.tar.gz")
    version = publish(
        store_factory("aws_default"),
        f"s3://{BUCKET}/{prefix}job/output/model.tar.gz",
        "churn",
        f"s3://{BUCKET}/{prefix}registry",
        {},
        str(tmp_path / "scratch"),
        (f"s3://{BUCKET}/{prefix}job/source/sourcedir.tar.gz", "model.py"),
    )  # as ExportArtifactsOperator publishes a script-mode training job's model
    aws.s3.put_object(Bucket=BUCKET, Key=f"{prefix}score/rows.csv", Body=b"1,2,3\n4,5,6\n")

    result = _operator(
        pushed_serving_image, version["uri"], prefix, batch_strategy="SingleRecord", accept="application/json"
    ).execute(task_context())

    assert result["status"] == "Completed"
    body = aws.s3.get_object(Bucket=BUCKET, Key=f"{prefix}scored/rows.csv.out")["Body"].read().decode()
    assert [json.loads(line) for line in body.splitlines()] == [
        {"prediction": 30.0, "tiny": "tiny-ok", "helper": 42},
        {"prediction": 75.0, "tiny": "tiny-ok", "helper": 42},
    ]
    repacked = _keys(aws, f"{prefix}registry/churn/1/script-mode/")
    assert len(repacked) == 1 and repacked[0].endswith("/model.tar.gz")  # the repack went through S3
    _assert_nothing_left(aws, prefix, result["job_name"], 1)
    _assert_all_ended(emulator)
