"""TrainOnEC2Operator(compute="ec2") end to end: moto launches, the emulator runs the user data as cloud-init would."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from support.ec2_emulator import Ec2Emulator
from support.helpers import task_context

from ml_lifecycle import TrainOnEC2Operator
from ml_lifecycle.errors import SpecError

pytestmark = pytest.mark.docker

BUCKET = "ml-bucket"
INSTANCE_PROFILE = "ml-lifecycle-instance"

METRICS = [{"Name": "train_rmse", "Regex": r"train_rmse=([0-9.eE+-]+);"}]


def _upload_training_data(aws: SimpleNamespace, data: Path) -> str:
    """Put the sample training data in moto's S3 and return its prefix.

    :param aws: the moto clients.
    :param data: the sample data folder.
    """
    for path in sorted((data / "train").iterdir()):
        aws.s3.upload_file(str(path), BUCKET, f"data/train/{path.name}")
    return f"s3://{BUCKET}/data/train"


def _operator(image: str, channel: str, **extra: Any) -> TrainOnEC2Operator:
    """Build an EC2 training operator.

    :param image: the image by digest.
    :param channel: the train channel's URI.
    :param extra: overrides.
    """
    args: dict[str, Any] = {
        "task_id": "train",
        "compute": "ec2",
        "image_uri": image,
        "channels": {"train": channel},
        "output_path": f"s3://{BUCKET}/training",
        "hyperparameters": {"l2": 0.01},
        "instance_type": "ml.m5.large",
        "metric_definitions": METRICS,
        "max_runtime_s": 600,
        "ec2_settings": {"instance_profile": INSTANCE_PROFILE},
        "poll_interval_s": 0.5,
    }
    args.update(extra)
    return TrainOnEC2Operator(**args)


def _object(aws: SimpleNamespace, key: str) -> bytes:
    """Read one object from moto's S3.

    :param aws: the moto clients.
    :param key: the key in the bucket.
    """
    return aws.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def _tar_members(data: bytes) -> dict[str, bytes]:
    """Return the files of a tar.gz.

    :param data: the archive.
    """
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def _instances(aws: SimpleNamespace, job_name: str) -> list[dict[str, Any]]:
    """Return the job's instances in moto, any state.

    :param aws: the moto clients.
    :param job_name: the job's name.
    """
    pages = aws.ec2.describe_instances(Filters=[{"Name": "tag:ml-lifecycle.job", "Values": [job_name]}])
    return [i for r in pages["Reservations"] for i in r["Instances"]]


def test_trains_on_an_emulated_instance_and_the_instance_goes_away(
    aws, emulator: Ec2Emulator, pushed_image, sample_data, ml_home
):
    channel = _upload_training_data(aws, sample_data)
    launched_at = time.time()
    result = _operator(pushed_image, channel).execute(task_context())
    job = result["job_name"]

    model = _tar_members(_object(aws, f"training/{job}/output/model.tar.gz"))
    assert "model.json" in model
    record = json.loads(_object(aws, f"training/{job}/status.json"))
    assert record["status"] == "Completed", record
    assert record["metrics"]["train_rmse"] == result["metrics"]["train_rmse"] > 0
    assert [i["State"]["Name"] for i in _instances(aws, job)] == ["terminated"]
    instance = next(iter(emulator.instances.values()))
    # The agent shuts the instance down after its final record; the task, seeing that record, ends whatever is left,
    # so either may come first.
    assert emulator.wait_ended(instance) in ("shutdown", "ec2"), instance.console
    assert instance.shutdowns[0].startswith("-h +"), "the deadline is armed before anything else runs"
    assert instance.metadata.state.token_requests > 0 and instance.metadata.state.unauthorised_requests == 0
    # What the job created is gone: its security group and its staging objects.
    groups = aws.ec2.describe_security_groups(Filters=[{"Name": "tag:ml-lifecycle.job", "Values": [job]}])
    assert groups["SecurityGroups"] == []
    assert "Contents" not in aws.s3.list_objects_v2(Bucket=BUCKET, Prefix=f"training/{job}/staging/")
    # The container's log went to CloudWatch Logs, stream <job>/algo-1.
    events = aws.logs.get_log_events(
        logGroupName="/aws/ml-lifecycle/TrainingJobs", logStreamName=f"{job}/algo-1", startFromHead=True
    )["events"]
    assert any("train_rmse=" in e["message"] for e in events)
    training_started = next(t for s, t in record["transitions"] if s == "Training")
    print(f"launch call -> container start: {_epoch(training_started) - launched_at:.2f} s")


def test_hostile_values_arrive_unchanged_and_are_never_executed(
    aws, emulator: Ec2Emulator, pushed_image, sample_data, ml_home, tmp_path
):
    channel = _upload_training_data(aws, sample_data)
    marker = tmp_path / "ec2" / "pwned"
    hostile = f"'\"$(touch {marker})`touch {marker}`;\n${{HOME}} \\"
    script = (
        "cp /opt/ml/input/config/hyperparameters.json /opt/ml/model/hp.json && env > /opt/ml/model/env.txt && train"
    )
    result = _operator(
        pushed_image,
        channel,
        output_path=f"s3://{BUCKET}/out $(touch {marker})/'q'",
        hyperparameters={"l2": 0.01, "hostile": hostile},
        environment={"HOSTILE": hostile},
        entrypoint=["sh", "-c", script],
        arguments=[],
    ).execute(task_context())

    key = result["model_uri"].removeprefix(f"s3://{BUCKET}/")
    model = _tar_members(_object(aws, key))
    assert json.loads(model["hp.json"])["hostile"] == hostile
    assert f"HOSTILE={hostile}\n" in model["env.txt"].decode()
    assert not marker.exists(), "a value was executed by the shell"


def test_a_spot_interruption_resumes_from_the_checkpoint(
    aws, emulator: Ec2Emulator, pushed_image, sample_data, ml_home
):
    channel = _upload_training_data(aws, sample_data)
    # Resumable training: count the starts in a checkpoint, wait to be interrupted on the first start.
    script = (
        "n=$(cat /opt/ml/checkpoints/starts 2>/dev/null || echo 0); n=$((n+1)); echo $n > /opt/ml/checkpoints/starts; "
        # sh as PID 1 ignores SIGTERM unless it traps it: stop at once, as a well-behaved training script does.
        'if [ "$n" = 1 ]; then trap "exit 143" TERM; echo first-start; sleep 600 & wait; fi; '
        "cp /opt/ml/checkpoints/starts /opt/ml/model/starts && train"
    )
    operator = _operator(
        pushed_image,
        channel,
        checkpoint_uri=f"s3://{BUCKET}/checkpoints/spot",
        entrypoint=["sh", "-c", script],
        arguments=[],
        use_spot=True,
        max_wait_s=1200,
    )
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = operator.execute(task_context())
        except BaseException as err:  # reported by the assertion below
            outcome["error"] = err

    thread = threading.Thread(target=run)
    thread.start()
    first = emulator.wait_booted(1, timeout_s=120)[0]
    _wait(lambda: _has_object(aws, "checkpoints/spot/starts"), "the first start's checkpoint")
    first.metadata.interrupt_spot()
    thread.join(timeout=600)

    assert "error" not in outcome, outcome.get("error")
    result = outcome["result"]
    assert _tar_members(_object(aws, result["model_uri"].removeprefix(f"s3://{BUCKET}/")))["starts"] == b"2\n"
    record = json.loads(_object(aws, f"training/{result['job_name']}/status.json"))
    assert record["status"] == "Completed"
    assert "Interrupted" in [s for s, _ in record["transitions"]]
    assert len(emulator.instances) == 2
    assert all(i["State"]["Name"] == "terminated" for i in _instances(aws, result["job_name"]))


def test_two_instances_train_as_algo_1_and_algo_2_and_algo_1_merges(
    aws, emulator: Ec2Emulator, pushed_image, sample_data, ml_home
):
    channel = _upload_training_data(aws, sample_data)
    script = (
        "cp /opt/ml/input/config/resourceconfig.json /opt/ml/model/resource-$(hostname).json && "
        "getent hosts algo-1 algo-2 > /opt/ml/output/data/hosts-$(hostname).txt && train"
    )
    result = _operator(pushed_image, channel, instance_count=2, entrypoint=["sh", "-c", script], arguments=[]).execute(
        task_context()
    )

    job = result["job_name"]
    model = _tar_members(_object(aws, f"training/{job}/output/model.tar.gz"))
    configs = {name: json.loads(model[name]) for name in ("resource-algo-1.json", "resource-algo-2.json")}
    assert [c["current_host"] for c in configs.values()] == ["algo-1", "algo-2"]
    assert all(c["hosts"] == ["algo-1", "algo-2"] for c in configs.values())
    private_ips = {i["AmiLaunchIndex"]: i["PrivateIpAddress"] for i in _instances(aws, job)}
    output = _tar_members(_object(aws, f"training/{job}/output/output.tar.gz"))
    assert f"{private_ips[1]}" in output["hosts-algo-1.txt"].decode(), "algo-2 resolves to its instance's address"
    record = json.loads(_object(aws, f"training/{job}/status.json"))
    assert record["status"] == "Completed" and record["hosts"] == ["algo-1", "algo-2"]
    assert len(emulator.instances) == 2
    assert all(i["State"]["Name"] == "terminated" for i in _instances(aws, job))


def test_a_retry_reattaches_to_the_running_instances_instead_of_launching_more(
    aws, emulator: Ec2Emulator, pushed_image, sample_data, ml_home
):
    channel = _upload_training_data(aws, sample_data)
    context = task_context()
    script = "sleep 5 && train"
    started = _operator(
        pushed_image, channel, entrypoint=["sh", "-c", script], arguments=[], wait_for_completion=False
    ).execute(context)
    assert started["status"] == "InProgress"
    emulator.wait_booted(1)
    _wait(lambda: _has_object(aws, f"training/{started['job_name']}/status.json"), "the agent's first record")

    result = _operator(pushed_image, channel, entrypoint=["sh", "-c", script], arguments=[]).execute(context)

    assert result["job_name"] == started["job_name"] and result["status"] == "Completed"
    assert len(_instances(aws, result["job_name"])) == 1, "the retry launched nothing"
    assert len(emulator.instances) == 1


def test_on_kill_stops_the_job_gracefully_and_ends_its_instances(
    aws, emulator: Ec2Emulator, pushed_image, sample_data, ml_home
):
    channel = _upload_training_data(aws, sample_data)
    script = 'echo saved > /opt/ml/model/partial.txt; trap "exit 143" TERM; sleep 600 & wait'
    operator = _operator(pushed_image, channel, entrypoint=["sh", "-c", script], arguments=[])
    thread = threading.Thread(target=lambda: _swallow(lambda: operator.execute(task_context())))
    thread.start()
    emulator.wait_booted(1)
    _wait(
        lambda: operator.current_job_name is not None and _training(aws, operator.current_job_name),
        "the container to start",
    )

    operator.on_kill()
    thread.join(timeout=300)

    job = operator.current_job_name
    record = json.loads(_object(aws, f"training/{job}/status.json"))
    assert record["status"] == "Stopped", record
    assert "partial.txt" in _tar_members(_object(aws, f"training/{job}/output/model.tar.gz"))
    assert all(i["State"]["Name"] == "terminated" for i in _instances(aws, job))


def _training(aws: SimpleNamespace, job_name: str) -> bool:
    """Say whether the job's record shows its container running.

    :param aws: the moto clients.
    :param job_name: the job's name.
    """
    if not _has_object(aws, f"training/{job_name}/status.json"):
        return False
    return json.loads(_object(aws, f"training/{job_name}/status.json"))["secondary_status"] == "Training"


def _swallow(call: Any) -> None:
    """Run call and ignore its error (the killed task's own failure is not what the test checks).

    :param call: a callable.
    """
    try:
        call()
    except Exception as err:
        print(f"the killed task ended with {err!r}")


@pytest.mark.parametrize("emulator", [0.25], indirect=True)
def test_an_instance_ends_at_its_deadline_even_if_the_job_never_does(
    aws, emulator: Ec2Emulator, pushed_image, sample_data, ml_home, monkeypatch
):
    from ml_lifecycle.errors import JobFailed

    channel = _upload_training_data(aws, sample_data)
    # The deadline (max_runtime_s + stop grace + upload margin = 27 minutes) passes in 6.75 s here; the lost
    # grace (30 s in production: S3's visibility of a record written just before the end) is cut to 2 s.
    monkeypatch.setattr("ml_lifecycle.compute.ec2.backend.LOST_GRACE_S", 2.0)
    operator = _operator(pushed_image, channel, entrypoint=["sleep", "3600"], arguments=[])
    with pytest.raises(JobFailed, match="its instances ended before the agent wrote a final record"):
        operator.execute(task_context())
    (instance,) = emulator.instances.values()
    assert instance.terminated_by == "deadline", instance.console
    assert [i["State"]["Name"] for i in _instances(aws, instance.job_name)] == ["terminated"]


def _has_object(aws: SimpleNamespace, key: str) -> bool:
    """Say whether an object exists in moto's S3.

    :param aws: the moto clients.
    :param key: the key.
    """
    return "Contents" in aws.s3.list_objects_v2(Bucket=BUCKET, Prefix=key)


def _wait(condition: Any, what: str, timeout_s: float = 120.0) -> None:
    """Poll condition until true.

    :param condition: a callable.
    :param what: for the failure message.
    :param timeout_s: how long to wait.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def _epoch(iso: str) -> float:
    """Convert an ISO-8601 UTC time to seconds since the epoch.

    :param iso: the time.
    """
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_the_instance_reads_aws_secrets_with_its_role_and_airflow_ones_are_refused_before_launch(
    aws, emulator: Ec2Emulator, pushed_image, sample_data, ml_home
):
    # moto checks no IAM policy: that the role may call ssm:GetParameter is not tested here.
    channel = _upload_training_data(aws, sample_data)
    name = f"/ml/{uuid.uuid4().hex[:8]}/token"
    value = "to'k\"en $(touch /tmp/pwned)\nline two"
    aws.ssm.put_parameter(Name=name, Value=value, Type="SecureString")
    script = 'printenv TOKEN | head -c -1 | sha256sum | cut -d" " -f1 > /opt/ml/model/token.sha256'
    result = _operator(
        pushed_image, channel, entrypoint=["sh", "-c", script], secrets={"TOKEN": f"ssm:{name}"}
    ).execute(task_context())

    job = result["job_name"]
    model = _tar_members(_object(aws, f"training/{job}/output/model.tar.gz"))
    assert model["token.sha256"].decode().strip() == hashlib.sha256(value.encode()).hexdigest()
    # The job document holds the reference only (the instance read the value); records and logs hold nothing.
    objects = [o["Key"] for o in aws.s3.list_objects_v2(Bucket=BUCKET, Prefix=f"training/{job}/").get("Contents", [])]
    events = aws.logs.get_log_events(
        logGroupName="/aws/ml-lifecycle/TrainingJobs", logStreamName=f"{job}/algo-1", startFromHead=True
    )["events"]
    for place in [*(_object(aws, key) for key in objects), json.dumps(events).encode(), json.dumps(result).encode()]:
        assert value.splitlines()[0].encode() not in place

    with pytest.raises(SpecError, match="TOKEN come from Airflow connections or variables"):
        _operator(pushed_image, channel, secrets={"TOKEN": "var:token"}).execute(task_context())
    assert len(emulator.instances) == 1, "nothing was launched for the refused job"


# Runs in the toolkit image (boto3 inside, unchanged) on the emulated instance: the default chain finds the instance
# role through the metadata service; the container reports which role that service names.
READ_WITH_INSTANCE_ROLE = """
import json, os, urllib.request, boto3
assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} & set(os.environ), "keys in env"
session = boto3.Session()
s3 = session.client("s3")
body = s3.get_object(Bucket="ml-bucket", Key="data/train/" + os.listdir("/opt/ml/input/data/train")[0])["Body"].read()
s3.put_object(Bucket="ml-bucket", Key="from-container/seen.txt", Body=str(len(body)).encode())
imds = os.environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://169.254.169.254").rstrip("/")
token = urllib.request.urlopen(urllib.request.Request(imds + "/latest/api/token", method="PUT",
    headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"}), timeout=5).read().decode()
role = urllib.request.urlopen(urllib.request.Request(imds + "/latest/meta-data/iam/security-credentials/",
    headers={"X-aws-ec2-metadata-token": token}), timeout=5).read().decode()
with open("/opt/ml/model/seen.json", "w") as out:
    json.dump({"method": session.get_credentials().method, "role": role}, out)
"""


def test_role_arn_gives_the_instances_a_profile_of_the_role_and_containers_reach_s3_with_it(
    aws, emulator: Ec2Emulator, pushed_toolkit_image, sample_data, ml_home
):
    # moto checks no IAM permission: that the role may read the bucket is not tested, only whose credentials are used.
    channel = _upload_training_data(aws, sample_data)
    role = f"ml-training-{uuid.uuid4().hex[:6]}"
    trust = '{"Version": "2012-10-17", "Statement": []}'
    arn = aws.iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    aws.iam.create_instance_profile(InstanceProfileName=f"{role}-profile")
    aws.iam.add_role_to_instance_profile(InstanceProfileName=f"{role}-profile", RoleName=role)
    result = _operator(
        pushed_toolkit_image,
        channel,
        entrypoint=["python3", "-c", READ_WITH_INSTANCE_ROLE],
        role_arn=arn,
        ec2_settings={},  # no instance_profile: the role's is found
    ).execute(task_context())

    model = _tar_members(_object(aws, f"training/{result['job_name']}/output/model.tar.gz"))
    seen = json.loads(model["seen.json"])
    # The emulated metadata service names the role of the instance profile moto says the instance was launched with
    # (moto forgets the profile once the instance is terminated, so it is read at boot).
    assert seen == {"method": "iam-role", "role": role}
    assert int(_object(aws, "from-container/seen.txt")) > 0


def test_script_mode_code_goes_through_s3_and_the_instance_stages_it(
    aws, emulator: Ec2Emulator, pushed_framework_image, sample_data, ml_home, tmp_path
):
    from support.framework_image import script_mode_sources

    channel = _upload_training_data(aws, sample_data)
    source, helpers = script_mode_sources(tmp_path)
    result = _operator(
        pushed_framework_image,
        channel,
        hyperparameters={"epochs": 2, "name": "on ec2"},
        metric_definitions=[],
        entry_point="train.py",
        source_dir=str(source),
        dependencies=[str(helpers)],
    ).execute(task_context())

    (key,) = [
        o["Key"]
        for o in aws.s3.list_objects_v2(Bucket=BUCKET, Prefix="training/source/")["Contents"]
        if o["Key"].endswith("/sourcedir.tar.gz")
    ]
    assert sorted(_tar_members(_object(aws, key))) == [
        "helpers/__init__.py",
        "requirements.txt",
        "train.py",
        "wheels/tinypkg-1.0-py3-none-any.whl",
    ]
    model = _tar_members(_object(aws, f"training/{result['job_name']}/output/model.tar.gz"))
    trained = json.loads(model["result.json"])
    assert (trained["epochs"], trained["name"], trained["tiny"], trained["helper"]) == (2, "on ec2", "tiny-ok", 42)
