"""The instance agent run as user data runs it: a process with only the agent bundle on its path, against moto,
an emulated metadata service, the real Docker engine and the local registry."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from ml_lifecycle.core.specs import TrainingSpec

pytestmark = pytest.mark.docker

# Resumes from /opt/ml/checkpoints/step when there is one (and ends at once); else counts steps, checkpointing
# each, until SIGTERM.
CHECKPOINTING = (
    "trap 'echo stopped at step $n; exit 143' TERM; "
    "n=$(cat /opt/ml/checkpoints/step 2>/dev/null || echo 0); "
    'if [ "$n" -gt 0 ]; then echo "resumed from step $n"; echo $n > /opt/ml/model/resumed-from; exit 0; fi; '
    "while true; do n=$((n+1)); echo $n > /opt/ml/checkpoints/step; echo step $n; sleep 0.3; done"
)
# Saves a model file, then runs until stopped.
RUNS_UNTIL_STOPPED = (
    "trap 'echo stopping; exit 143' TERM; echo early > /opt/ml/model/early.txt; echo started; "
    "while true; do sleep 0.3; done"
)
FAILS = "echo 'column 7 is not a number' > /opt/ml/output/failure; echo failing; exit 3"
# Each host writes what it knows of the hosts: its name, and the address /etc/hosts gives every host.
REPORTS_HOSTS = (
    "h=$(hostname); getent hosts algo-1 algo-2 > /opt/ml/model/hosts-$h.txt; "
    "cp /opt/ml/input/config/resourceconfig.json /opt/ml/output/data/resource-$h.json; echo done on $h"
)


def _spec(image: str, channel: str, **extra: Any) -> TrainingSpec:
    """Build a training spec writing to the harness bucket.

    :param image: the image (by digest).
    :param channel: the train channel URI.
    :param extra: overrides.
    """
    args: dict[str, Any] = {
        "image_uri": image,
        "channels": {"train": channel},
        "output_path": "s3://agent-bucket/out",
        "hyperparameters": {"l2": 0.01},
        "metric_definitions": [{"Name": "train_rmse", "Regex": r"train_rmse=([0-9.eE+-]+);"}],
        "max_runtime_s": 600,
    }
    args.update(extra)
    return TrainingSpec.build(**args)


def _members(data: bytes) -> dict[str, bytes]:
    """Read every file of a tar.gz held in memory.

    :param data: the archive's bytes.
    """
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def test_a_single_host_job_completes_with_its_model_and_logs(harness, pushed_image, sample_data):
    channel = harness.upload_channel(Path(sample_data) / "train")
    document = harness.write_document(_spec(pushed_image, channel))
    (instance,) = harness.launch(1)

    agent = harness.start_agent(document, instance)
    assert harness.wait(agent) == 0, harness.log(agent)

    record = harness.record()
    assert (record.status, record.secondary_status) == ("Completed", "Completed")
    assert [t[0] for t in record.transitions] == [
        "Starting",
        "Downloading",
        "Training",
        "Uploading",
        "Completed",
    ]
    assert record.hosts == ["algo-1"] and record.exit_codes == {"algo-1": 0}
    assert record.metrics["train_rmse"] >= 0
    assert record.agent["instance_id"] == instance.identity.instance_id
    assert record.agent["interruptions"] == 0 and record.agent["billable_s"] > 0
    assert record.artifacts["model"] == f"s3://agent-bucket/{harness.out_prefix}/output/model.tar.gz"
    model = json.loads(_members(harness.object(f"{harness.out_prefix}/output/model.tar.gz"))["model.json"])
    assert len(model["weights"]) == model["n_features"] > 0
    lines = harness.log_lines("algo-1")
    assert any("[algo-1] train_rmse=" in line for line in lines)
    assert any("ended Completed" in line for line in lines)
    assert instance.state.token_requests >= 1 and instance.state.unauthorised_requests == 0


def test_a_spot_interruption_checkpoints_and_a_relaunch_resumes(harness, pushed_image, sample_data):
    channel = harness.upload_channel(Path(sample_data) / "train")
    checkpoints = f"s3://agent-bucket/checkpoints/{harness.job_name}"
    spec = _spec(pushed_image, channel, entrypoint=["sh", "-c", CHECKPOINTING], checkpoint_uri=checkpoints)
    document = harness.write_document(spec)
    (first,) = harness.launch(1)

    agent = harness.start_agent(document, first)
    harness.wait_until(lambda: harness.keys(f"checkpoints/{harness.job_name}/step"), "a checkpoint upload")
    first.interrupt_spot()
    assert harness.wait(agent) == 75, harness.log(agent)

    interrupted = harness.record()
    assert (interrupted.status, interrupted.secondary_status) == ("InProgress", "Interrupted")
    assert interrupted.agent["interruptions"] == 1
    step = int(harness.object(f"checkpoints/{harness.job_name}/step"))
    assert step > 0
    assert not harness.keys(f"{harness.out_prefix}/output/")

    harness.terminate(first)
    (second,) = harness.launch(1)
    relaunched = harness.start_agent(document, second)
    assert harness.wait(relaunched) == 0, harness.log(relaunched)

    record = harness.record()
    assert (record.status, record.secondary_status) == ("Completed", "Completed")
    assert record.created_at == interrupted.created_at
    assert record.transitions[: len(interrupted.transitions)] == interrupted.transitions
    assert [t[0] for t in record.transitions].count("Interrupted") == 1
    assert record.agent["instance_id"] == second.identity.instance_id
    assert record.agent["interruptions"] == 1
    assert record.agent["billable_s"] > interrupted.agent["billable_s"]
    model = _members(harness.object(f"{harness.out_prefix}/output/model.tar.gz"))
    assert int(model["resumed-from"]) >= step


def test_a_stop_request_stops_the_job_and_keeps_its_artifacts(harness, pushed_image, sample_data):
    channel = harness.upload_channel(Path(sample_data) / "train")
    document = harness.write_document(_spec(pushed_image, channel, entrypoint=["sh", "-c", RUNS_UNTIL_STOPPED]))
    (instance,) = harness.launch(1)

    agent = harness.start_agent(document, instance)
    harness.wait_until(lambda: "[algo-1] started" in harness.log(agent), "the container to start")
    harness.aws.s3.put_object(Bucket="agent-bucket", Key=f"{harness.out_prefix}/staging/stop-requested", Body=b"")
    assert harness.wait(agent) == 1, harness.log(agent)

    record = harness.record()
    assert (record.status, record.secondary_status) == ("Stopped", "Stopped")
    assert record.ended_at
    model = _members(harness.object(f"{harness.out_prefix}/output/model.tar.gz"))
    assert model["early.txt"] == b"early\n"


def test_a_failing_container_fails_the_job_with_its_reason(harness, pushed_image, sample_data):
    channel = harness.upload_channel(Path(sample_data) / "train")
    document = harness.write_document(_spec(pushed_image, channel, entrypoint=["sh", "-c", FAILS]))
    (instance,) = harness.launch(1)

    agent = harness.start_agent(document, instance)
    assert harness.wait(agent) == 1, harness.log(agent)

    record = harness.record()
    assert (record.status, record.secondary_status) == ("Failed", "Failed")
    assert record.failure_reason == "column 7 is not a number"
    assert record.exit_codes == {"algo-1": 3}
    assert not harness.keys(f"{harness.out_prefix}/output/")
    assert any("[algo-1] failing" in line for line in harness.log_lines("algo-1"))


def test_two_hosts_run_on_two_instances_and_algo_1_merges_them(harness, pushed_image, sample_data):
    channel = harness.upload_channel(Path(sample_data) / "train")
    spec = _spec(pushed_image, channel, entrypoint=["sh", "-c", REPORTS_HOSTS], instance_count=2)
    document = harness.write_document(spec, instance_count=2)
    first, second = harness.launch(2)

    agents = [harness.start_agent(document, first), harness.start_agent(document, second)]
    assert [harness.wait(agent) for agent in agents] == [0, 0], [harness.log(a) for a in agents]

    record = harness.record()
    assert (record.status, record.secondary_status) == ("Completed", "Completed")
    assert record.hosts == ["algo-1", "algo-2"]
    assert record.exit_codes == {"algo-1": 0, "algo-2": 0}
    assert record.agent["host"] == "algo-1"
    model = _members(harness.object(f"{harness.out_prefix}/output/model.tar.gz"))
    addresses = {"algo-1": first.identity.private_ip, "algo-2": second.identity.private_ip}
    for host, other in (("algo-1", "algo-2"), ("algo-2", "algo-1")):
        known = dict(reversed(line.split()) for line in model[f"hosts-{host}.txt"].decode().splitlines())
        assert known[other] == addresses[other]
    output = _members(harness.object(f"{harness.out_prefix}/output/output.tar.gz"))
    configs = {name: json.loads(body) for name, body in output.items()}
    assert {c["current_host"] for c in configs.values()} == {"algo-1", "algo-2"}
    assert all(c["hosts"] == ["algo-1", "algo-2"] for c in configs.values())
    assert harness.log_lines("algo-2") and harness.log_lines("algo-1")
