"""TrainOnEC2Operator with compute="local": real containers on the Docker engine, file:// artifacts."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
from support.helpers import managed_containers, task_context

from ml_lifecycle import TrainOnEC2Operator
from ml_lifecycle.errors import ImageNotFound, JobFailed, SpecError

pytestmark = pytest.mark.docker


def _operator(image: str, data: Path, out: Path, **kwargs: Any) -> TrainOnEC2Operator:
    """Build a training operator on the sample data.

    :param image: the image.
    :param data: the sample data folder.
    :param out: the output folder.
    :param kwargs: overrides.
    """
    args: dict[str, Any] = {
        "task_id": "train",
        "image_uri": image,
        "channels": {"train": f"file://{data}/train", "validation": f"file://{data}/validation"},
        "output_path": f"file://{out}",
        "hyperparameters": {"l2": 0.01},
        "metric_definitions": [{"Name": "train_rmse", "Regex": r"train_rmse=([0-9.eE+-]+);"}],
        "max_runtime_s": 300,
    }
    args.update(kwargs)
    return TrainOnEC2Operator(**args)


def _members(archive: Path) -> dict[str, bytes]:
    """Read every file of a tar.gz.

    :param archive: the archive.
    """
    with tarfile.open(archive) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def test_trains_and_exports_where_sagemaker_puts_outputs(example_image, sample_data, tmp_path, ml_home, docker_client):
    context = task_context(task_id="train")
    result = _operator(example_image, sample_data, tmp_path).execute(context)

    job = result["job_name"]
    assert result["status"] == "Completed"
    assert result["model_uri"] == f"file://{tmp_path}/{job}/output/model.tar.gz"
    assert "model.json" in _members(tmp_path / job / "output" / "model.tar.gz")
    assert "report.json" in _members(tmp_path / job / "output" / "output.tar.gz")
    assert 0 < result["metrics"]["train_rmse"] < 0.5
    json.dumps(result)  # XCom-safe
    record = json.loads((tmp_path / job / "status.json").read_text())
    assert record["status"] == "Completed" and record["secondary_status"] == "Completed"
    assert [t[0] for t in record["transitions"]] == ["Starting", "Downloading", "Training", "Uploading", "Completed"]
    assert record["inputs"]["train"]["objects"] == 4
    assert record["metric_series"]["train_rmse"]
    assert managed_containers(docker_client, job=job) == []
    assert not (ml_home / "work" / "jobs" / job).exists()


def test_container_sees_the_sagemaker_layout(example_image, sample_data, tmp_path, ml_home):
    copy_config = "cp /opt/ml/input/config/*.json /opt/ml/model/ && ls /opt/ml/input/data/train > /opt/ml/model/files"
    op = _operator(
        example_image,
        sample_data,
        tmp_path,
        entrypoint=["sh", "-c", copy_config + ' && echo "$TRAINING_JOB_NAME" > /opt/ml/model/job'],
        hyperparameters={"l2": 0.5, "epochs": 3, "flag": True},
        environment={"MY_SETTING": "x"},
    )
    result = op.execute(task_context())
    files = _members(Path(result["model_uri"].removeprefix("file://")))

    assert json.loads(files["hyperparameters.json"]) == {"l2": "0.5", "epochs": "3", "flag": "True"}
    assert json.loads(files["inputdataconfig.json"]) == {
        "train": {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None"},
        "validation": {
            "TrainingInputMode": "File",
            "S3DistributionType": "FullyReplicated",
            "RecordWrapperType": "None",
        },
    }
    resource = json.loads(files["resourceconfig.json"])
    assert resource["current_host"] == "algo-1" and resource["hosts"] == ["algo-1"]
    assert resource["current_group_name"] == "homogeneousCluster"
    assert resource["instance_groups"][0]["hosts"] == ["algo-1"]
    assert set(resource) >= {"current_instance_type", "network_interface_name"}
    assert files["files"].decode().split() == sorted(p.name for p in (sample_data / "train").iterdir())
    assert files["job"].decode().strip() == result["job_name"]


def test_two_hosts_resolve_each_other_and_models_merge(example_image, sample_data, tmp_path, ml_home):
    # Peers may not resolve at the very first instant (the contract says to retry DNS, as the toolkit does).
    script = (
        "import json, socket, time\n"
        "c = json.load(open('/opt/ml/input/config/resourceconfig.json'))\n"
        "def resolve(h):\n"
        "    for _ in range(100):\n"
        "        try:\n"
        "            return socket.gethostbyname(h)\n"
        "        except socket.gaierror:\n"
        "            time.sleep(0.1)\n"
        "    raise SystemExit('cannot resolve ' + h)\n"
        "open('/opt/ml/model/' + c['current_host'] + '.txt', 'w').write(' '.join(resolve(h) for h in c['hosts']))\n"
        # A host that exits leaves the network's DNS; stay up so the slower peer can still resolve this one.
        "time.sleep(3)\n"
    )
    op = _operator(example_image, sample_data, tmp_path, instance_count=2, entrypoint=["python3", "-c", script])
    result = op.execute(task_context())
    files = _members(Path(result["model_uri"].removeprefix("file://")))

    assert sorted(files) == ["algo-1.txt", "algo-2.txt"]
    assert len(set(files["algo-1.txt"].split())) == 2


def test_clashing_model_files_from_two_hosts_fail_naming_the_file(
    example_image, sample_data, tmp_path, ml_home, docker_client
):
    clash = ["sh", "-c", "echo x > /opt/ml/model/same.txt"]
    op = _operator(example_image, sample_data, tmp_path, instance_count=2, entrypoint=clash)
    context = task_context()
    with pytest.raises(JobFailed, match=r"same\.txt"):
        op.execute(context)
    owned = {"label": [f"ml-lifecycle.run-id={context['run_id']}"]}
    assert docker_client.networks.list(filters=owned) == []
    assert docker_client.volumes.list(filters=owned) == []
    assert managed_containers(docker_client, run_id=context["run_id"]) == []


def test_failure_file_becomes_the_reason_and_nothing_is_left(
    example_image, sample_data, tmp_path, ml_home, docker_client
):
    failing = ["sh", "-c", "echo bad things happened > /opt/ml/output/failure; echo last words; exit 3"]
    context = task_context()
    with pytest.raises(JobFailed) as caught:
        _operator(example_image, sample_data, tmp_path, entrypoint=failing).execute(context)

    assert caught.value.reason == "bad things happened"
    assert "last words" in caught.value.log_tail
    record = json.loads(next(tmp_path.glob("*/status.json")).read_text())
    assert record["status"] == "Failed" and record["failure_reason"] == "bad things happened"
    assert managed_containers(docker_client, run_id=context["run_id"]) == []


def test_exit_137_without_the_oom_killer_is_not_called_out_of_memory(example_image, sample_data, tmp_path, ml_home):
    with pytest.raises(JobFailed, match="not by the out-of-memory killer"):
        _operator(example_image, sample_data, tmp_path, entrypoint=["sh", "-c", "exit 137"]).execute(task_context())


def test_max_runtime_stops_with_sigterm_and_keeps_saved_files(example_image, sample_data, tmp_path, ml_home):
    handler = "trap 'echo saved > /opt/ml/model/partial.txt; exit 143' TERM; while true; do sleep 0.1; done"
    op = _operator(example_image, sample_data, tmp_path, entrypoint=["sh", "-c", handler], max_runtime_s=2)
    with pytest.raises(JobFailed) as caught:
        op.execute(task_context())

    assert caught.value.status == "MaxRuntimeExceeded"
    assert "raise max_runtime_s" in str(caught.value)  # the parameter to change, named
    job = caught.value.job_name
    assert _members(tmp_path / job / "output" / "model.tar.gz") == {"partial.txt": b"saved\n"}


def test_a_retry_reuses_a_completed_job_and_a_failure_gets_a_new_attempt(example_image, sample_data, tmp_path, ml_home):
    context = task_context()
    first = _operator(example_image, sample_data, tmp_path).execute(context)
    created = json.loads((tmp_path / first["job_name"] / "status.json").read_text())["created_at"]
    again = _operator(example_image, sample_data, tmp_path).execute(context)
    assert again == first
    assert json.loads((tmp_path / first["job_name"] / "status.json").read_text())["created_at"] == created

    other = task_context()
    with pytest.raises(JobFailed):
        _operator(example_image, sample_data, tmp_path, entrypoint=["sh", "-c", "exit 1"]).execute(other)
    retried = _operator(example_image, sample_data, tmp_path).execute(other)
    assert retried["job_name"].endswith("-a2") and retried["status"] == "Completed"


@pytest.mark.parametrize(
    ("overrides", "parameter"),
    [
        ({"channels": {"train": "ftp://host/data"}}, "channels['train']"),
        ({"channels": {"bad name!": "file:///data"}}, "channels['bad name!']"),
        ({"hyperparameters": {"layers": [1, 2]}}, "hyperparameters['layers']"),
        ({"image_uri": "Not A Valid:Image"}, "image_uri"),
        ({"instance_count": 0}, "instance_count"),
        ({"max_runtime_s": 0}, "max_runtime_s"),
        ({"max_runtime_s": -5}, "max_runtime_s"),
        ({"compute": "gpu-cloud"}, "compute"),
        ({"metric_definitions": [{"Name": "x", "Regex": "no group"}]}, "metric_definitions[0]"),
    ],
)
def test_bad_arguments_fail_when_the_dag_is_parsed(overrides, parameter, tmp_path):
    with pytest.raises(SpecError) as caught:
        _operator("example:latest", tmp_path, tmp_path, **overrides)
    assert caught.value.parameter == parameter
    assert parameter in str(caught.value)


def test_templated_values_wait_for_rendering(tmp_path):
    op = _operator("{{ ti.xcom_pull('push') }}", tmp_path, tmp_path, instance_count="{{ params.n }}")
    assert op.instance_count == "{{ params.n }}"


def test_missing_channel_fails_before_any_container_starts(example_image, tmp_path, ml_home, docker_client):
    context = task_context()
    op = _operator(example_image, tmp_path / "nowhere", tmp_path / "out")
    with pytest.raises(SpecError, match="holds no objects"):
        op.execute(context)
    assert managed_containers(docker_client, run_id=context["run_id"]) == []


def test_an_image_that_does_not_exist_says_so(sample_data, tmp_path, ml_home):
    with pytest.raises(
        ImageNotFound,
        match=r"not on the Docker engine, and pulling it from docker\.io with no login from Airflow .* failed",
    ):
        _operator("ml-lifecycle-test/missing:nope", sample_data, tmp_path).execute(task_context())


def test_an_image_without_train_says_what_sagemaker_expects(docker_client, sample_data, tmp_path, ml_home):
    with pytest.raises(JobFailed, match="executable named so on the image's PATH"):
        _operator("python:3.11-slim", sample_data, tmp_path).execute(task_context())


def test_compute_ec2_refuses_local_folders_before_anything_starts(sample_data, tmp_path, ml_home):
    with pytest.raises(SpecError, match=r"^output_path: .* an EC2 instance cannot read. Use an s3:// URI"):
        _operator("example:latest", sample_data, tmp_path, compute="ec2").execute(task_context())


def test_every_bad_argument_is_reported_at_once(tmp_path):
    # Before: only the first bad argument was reported; fixing it revealed the next.
    with pytest.raises(SpecError) as caught:
        TrainOnEC2Operator(
            task_id="train",
            image_uri="Not A Valid:Image",
            channels={"train": "ftp://host/data"},
            output_path=f"file://{tmp_path}",
            instance_count=0,
            compute="gpu-cloud",
        )
    assert caught.value.parameter == "image_uri, channels['train'], compute, instance_count"
    assert str(caught.value).startswith("4 arguments are wrong:")
