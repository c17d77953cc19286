"""What a job container gets on the real Docker engine: /dev/shm sized as on an instance (Docker's 64 MB breaks
PyTorch data loaders), the limits NCCL-era images expect, and GPUs refused up front where the engine has none."""

from __future__ import annotations

import shutil
import tarfile
import uuid
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException
from support.helpers import managed_containers, task_context
from support.models import linear_model_archive

from ml_lifecycle import BatchTransformOperator, DeleteEndpointOperator, DeployEndpointOperator, TrainOnEC2Operator
from ml_lifecycle.errors import GpuUnavailable

pytestmark = pytest.mark.docker

GIB = 1024**3
# Fills /dev/shm well past Docker's 64 MB, as DataLoader workers do, then reports what the container was given.
FILL_AND_REPORT = (
    "dd if=/dev/zero of=/dev/shm/fill bs=1M count=200 2>/dev/null && "
    "df -k /dev/shm | tail -n 1 | awk '{print $2}' > /opt/ml/model/shm_kib && "
    "ulimit -n > /opt/ml/model/nofile && ulimit -l > /opt/ml/model/memlock_kib && ulimit -s > /opt/ml/model/stack_kib"
)
GPU_HERE = shutil.which("nvidia-smi") is not None


def _train(image: str, data: Path, out: Path, **kwargs: Any) -> dict[str, Any]:
    """Run a training job that fills /dev/shm and reports its sizes; return the operator's result.

    :param image: the image.
    :param data: the sample data folder.
    :param out: the output folder.
    :param kwargs: operator overrides.
    """
    return TrainOnEC2Operator(
        task_id="train",
        image_uri=image,
        channels={"train": f"file://{data}/train"},
        output_path=f"file://{out}",
        entrypoint=["sh", "-c", FILL_AND_REPORT],
        max_runtime_s=300,
        **kwargs,
    ).execute(task_context(task_id="train"))


def _reported(result: dict[str, Any], out: Path) -> dict[str, str]:
    """Read what the container reported from model.tar.gz.

    :param result: the operator's result.
    :param out: the output folder.
    """
    with tarfile.open(out / result["job_name"] / "output" / "model.tar.gz") as tar:
        return {
            m.name: tar.extractfile(m).read().decode().strip()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }


def _engine_hard_limit(row: str) -> float:
    """Return the local dockerd's hard limit of a /proc limits row (inf for unlimited or when unreadable).

    :param row: e.g. ``Max open files``.
    """
    try:
        pid = Path("/var/run/docker.pid").read_text().strip()
        line = next(line for line in Path(f"/proc/{pid}/limits").read_text().splitlines() if line.startswith(row))
    except (OSError, StopIteration):
        return float("inf")
    hard = line[len(row) :].split()[1]
    return float("inf") if hard == "unlimited" else float(hard)


def test_a_training_container_fills_dev_shm_past_64_mb_and_gets_half_the_instance_memory(
    example_image, sample_data, tmp_path, ml_home
):
    # Before: Docker's 64 MB /dev/shm; dd failed with "No space left on device" and so did the job.
    result = _train(example_image, sample_data, tmp_path, instance_type="ml.m5.large")  # 8 GiB

    reported = _reported(result, tmp_path)
    assert result["status"] == "Completed"
    assert int(reported["shm_kib"]) * 1024 == 4 * GIB


def test_shm_size_overrides_the_instance_default(example_image, sample_data, tmp_path, ml_home):
    result = _train(example_image, sample_data, tmp_path, shm_size="512m")

    assert int(_reported(result, tmp_path)["shm_kib"]) * 1024 == 512 * 1024**2


def test_the_limits_nccl_expects_are_raised_as_far_as_the_engine_allows(example_image, sample_data, tmp_path, ml_home):
    # memlock unlimited, 1M files and a 64 MiB stack, each at most the engine's own hard limit (an engine without
    # CAP_SYS_RESOURCE, such as dockerd in a container, cannot raise them further; the task log says so).
    reported = _reported(_train(example_image, sample_data, tmp_path), tmp_path)

    memlock_kib = float("inf") if reported["memlock_kib"] == "unlimited" else float(reported["memlock_kib"])
    assert memlock_kib == min(float("inf"), _engine_hard_limit("Max locked memory") / 1024)
    assert float(reported["nofile"]) == min(1_048_576, _engine_hard_limit("Max open files"))
    assert float(reported["stack_kib"]) == min(64 * 1024, _engine_hard_limit("Max stack size") / 1024)


@pytest.mark.skipif(GPU_HERE, reason="this machine has GPUs: the no-GPU-runtime refusal cannot be seen here")
def test_a_gpu_type_on_an_engine_without_a_gpu_runtime_fails_before_anything_starts(
    example_image, sample_data, tmp_path, ml_home, docker_client
):
    # Before: ml.g5.xlarge trained on the CPU without a word. A retry cannot help: Airflow is told not to retry.
    with pytest.raises(AirflowFailException, match="NVIDIA Container Toolkit") as refused:
        _train(example_image, sample_data, tmp_path, instance_type="ml.g5.xlarge")

    assert isinstance(refused.value.__cause__, GpuUnavailable)
    assert "gpus=0" in str(refused.value) and "instance type without GPUs" in str(refused.value)
    assert list(tmp_path.iterdir()) == []  # no record, no outputs: nothing started
    assert managed_containers(docker_client, dag_id="tests") == []
    assert docker_client.containers.list(all=True, filters={"label": "ml-lifecycle/probe=gpu"}) == []


def test_gpus_0_runs_a_gpu_type_on_the_cpu_and_says_so(example_image, sample_data, tmp_path, ml_home, capsys):
    result = _train(example_image, sample_data, tmp_path, instance_type="ml.g5.xlarge", gpus=0)

    assert result["status"] == "Completed"
    assert "WARNING: ml.g5.xlarge has GPUs but gpus=0: the containers run on the CPU" in capsys.readouterr().out


@pytest.mark.skipif(GPU_HERE, reason="this machine has GPUs: the no-GPU-runtime refusal cannot be seen here")
def test_a_transform_on_a_gpu_type_is_refused_before_its_containers_start(
    example_image, tmp_path, ml_home, docker_client
):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "rows.csv").write_text("1,1,1,1,1,1,1,1\n")
    model = linear_model_archive(tmp_path / "model" / "model.tar.gz", [1.0] * 8)
    transform = BatchTransformOperator(
        task_id="transform",
        image_uri=example_image,
        model_uri=model,
        input_uri=f"file://{tmp_path}/in",
        output_uri=f"file://{tmp_path}/out",
        content_type="text/csv",
        instance_type="ml.g4dn.xlarge",
    )
    with pytest.raises(AirflowFailException, match="no GPU runtime") as refused:
        transform.execute(task_context(task_id="transform"))
    assert isinstance(refused.value.__cause__, GpuUnavailable)
    assert not (tmp_path / "out").exists()
    assert managed_containers(docker_client, dag_id="tests") == []


def test_an_endpoint_container_gets_its_shm_size_and_limits(example_image, tmp_path, ml_home, docker_client):
    name = f"ep-{uuid.uuid4().hex[:8]}"
    model = linear_model_archive(tmp_path / "model.tar.gz", [1.0] * 8)
    try:
        DeployEndpointOperator(
            task_id="deploy", endpoint_name=name, image_uri=example_image, model_uri=model, shm_size="1g"
        ).execute(task_context())
        (model_container,) = [
            c for c in managed_containers(docker_client, endpoint=name) if "ml-lifecycle.role" not in c.labels
        ]
        host_config = model_container.attrs["HostConfig"]
        assert host_config["ShmSize"] == GIB
        assert {u["Name"] for u in host_config["Ulimits"]} == {"memlock", "nofile", "stack"}
        assert not host_config.get("DeviceRequests")  # ml.m5.large has no GPU
    finally:
        DeleteEndpointOperator(task_id="delete", endpoint_name=name).execute(task_context())
