"""Jobs on GPU instance types ask the engine for their GPUs (device requests), each host its own when there are
enough, and a job asking for more GPUs than the machine has fails before anything starts.

This machine has no GPU, so these run against a second, real dockerd whose "nvidia" device driver is registered
by a stub nvidia-container-runtime-hook (tests/support/gpu_engine.py): the only way to start a container with a
device request here. The stub emulates a machine of 4 GPUs: it gives each container an nvidia-smi listing the GPUs
its device request named. The containers see no device; the smoke test in test_gpu_smoke.py needs a real one.
"""

from __future__ import annotations

import json
import tarfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.gpu_engine import GpuEngine, stub_gpu_engine, why_no_gpu_engine
from support.helpers import inspected_on_start, managed_containers, task_context
from support.models import linear_model_archive

from ml_lifecycle import BatchTransformOperator, DeleteEndpointOperator, DeployEndpointOperator, TrainOnEC2Operator
from ml_lifecycle.compute.local.endpoints.proxy import ensure_proxy_image
from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine
from ml_lifecycle.errors import SpecError

pytestmark = [pytest.mark.docker, pytest.mark.skipif(bool(why_no_gpu_engine()), reason=str(why_no_gpu_engine()))]

STUB_GPUS = 4
REPORT_GPUS = (  # every host's model/ folder is merged into model.tar.gz: one file per host
    'nvidia-smi -L > /opt/ml/model/gpus-$(hostname) && echo "$NVIDIA_VISIBLE_DEVICES" > /opt/ml/model/visible-$(hostname)'
    " && sleep ${HOLD_S:-0}"
)


@pytest.fixture(scope="module")
def gpu_engine(docker_client: Any, example_image: str, toolkit_image: str) -> Iterator[GpuEngine]:
    """A Docker engine with 4 stub GPUs, the example, toolkit and endpoint proxy images, for this module."""
    proxy_image = ensure_proxy_image(DockerEngine())
    with stub_gpu_engine(STUB_GPUS, [example_image, toolkit_image, proxy_image], docker_client) as engine:
        yield engine


@pytest.fixture
def on_gpu_engine(gpu_engine: GpuEngine, ml_home: Path, monkeypatch: pytest.MonkeyPatch) -> GpuEngine:
    """Point ml_lifecycle (and the agents it forks) at the stub GPU engine for one test."""
    monkeypatch.setenv("DOCKER_HOST", gpu_engine.docker_host)
    return gpu_engine


def _train(image: str, data: Path, out: Path, **kwargs: Any) -> dict[str, Any]:
    """Run a training job that reports the GPUs it sees; return the operator's result.

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
        entrypoint=["sh", "-c", REPORT_GPUS],
        max_runtime_s=300,
        **kwargs,
    ).execute(task_context(task_id="train"))


def _archive(path: Path) -> dict[str, str]:
    """Read the text files of a tar.gz.

    :param path: the archive.
    """
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read().decode().strip() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def _uuids(listing: str) -> list[str]:
    """Return the GPU UUIDs of an ``nvidia-smi -L`` listing.

    :param listing: its output.
    """
    return [line.split("UUID: ")[1].rstrip(")") for line in listing.splitlines() if "UUID: " in line]


def _wait_ended(record: Path, timeout_s: float = 120) -> dict[str, Any]:
    """Wait for a job record to say the job ended; return it.

    :param record: the job's status.json.
    :param timeout_s: how long to wait.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if record.exists():
            data = json.loads(record.read_text())
            if data["status"] not in ("InProgress",):
                return data
        time.sleep(0.2)
    raise AssertionError(f"{record} did not end within {timeout_s} s")


def test_a_gpu_type_container_carries_the_device_request_and_sees_its_gpus(
    on_gpu_engine, example_image, sample_data, tmp_path
):
    op = TrainOnEC2Operator(
        task_id="train",
        image_uri=example_image,
        channels={"train": f"file://{sample_data}/train"},
        output_path=f"file://{tmp_path}",
        entrypoint=["sh", "-c", REPORT_GPUS],
        environment={"HOLD_S": "3"},
        instance_type="ml.g5.12xlarge",  # 4 GPUs
        wait_for_completion=False,
    )
    started = op.execute(task_context(task_id="train"))
    (container,) = _running(on_gpu_engine, started["job_name"])
    (request,) = container.attrs["HostConfig"]["DeviceRequests"]
    assert request["Capabilities"] == [["gpu"]]
    assert request["DeviceIDs"] == ["0", "1", "2", "3"]
    assert container.attrs["HostConfig"]["ShmSize"] == 96 * 1024**3  # half of the type's 192 GiB

    record = _wait_ended(tmp_path / started["job_name"] / "status.json")
    assert record["status"] == "Completed"
    model = _archive(tmp_path / started["job_name"] / "output" / "model.tar.gz")
    assert len(_uuids(model["gpus-algo-1"])) == 4, model
    assert model["visible-algo-1"] == "0,1,2,3"


def _running(engine: GpuEngine, job_name: str, hosts: int = 1, timeout_s: float = 60) -> list[Any]:
    """Wait for a job's containers to run on the GPU engine; return them, algo-1 first.

    :param engine: the stub GPU engine.
    :param job_name: the job.
    :param hosts: how many to wait for.
    :param timeout_s: how long to wait.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = managed_containers(engine.client, job=job_name)
        if len(found) == hosts:
            return sorted(found, key=lambda c: c.labels.get("ml-lifecycle.host", ""))
        time.sleep(0.1)
    raise AssertionError(f"{job_name} did not start {hosts} container(s) on the GPU engine")


def test_each_host_of_a_job_gets_distinct_gpus_when_the_machine_has_enough(
    on_gpu_engine, example_image, sample_data, tmp_path
):
    result = _train(example_image, sample_data, tmp_path, instance_type="ml.g5.2xlarge", instance_count=2)

    model = _archive(tmp_path / result["job_name"] / "output" / "model.tar.gz")
    first, second = _uuids(model["gpus-algo-1"]), _uuids(model["gpus-algo-2"])
    assert len(first) == len(second) == 1
    assert first != second


def test_the_sagemaker_training_toolkit_counts_the_gpus_each_host_was_given(
    on_gpu_engine, toolkit_image, sample_data, tmp_path
):
    # The toolkit (PyPI sagemaker-training, unchanged) sets SM_NUM_GPUS from `nvidia-smi --list-gpus`.
    result = TrainOnEC2Operator(
        task_id="train",
        image_uri=toolkit_image,
        channels={"train": f"file://{sample_data}/train"},
        output_path=f"file://{tmp_path}",
        # The stub engine runs without iptables: its hosts resolve each other but the main engine's FORWARD
        # policy drops their TCP, so the script's peer rendezvous is skipped.
        hyperparameters={"epochs": 1, "rendezvous": "no"},
        instance_type="ml.g5.12xlarge",  # 4 GPUs, 2 hosts: the machine has 4, so they share them
        instance_count=2,
        max_runtime_s=300,
    ).execute(task_context(task_id="train"))

    model = _archive(tmp_path / result["job_name"] / "output" / "model.tar.gz")
    for host in ("algo-1", "algo-2"):
        assert json.loads(model[f"seen-{host}.json"])["env"]["SM_NUM_GPUS"] == "4", model[f"seen-{host}.json"]
    single = TrainOnEC2Operator(
        task_id="train",
        image_uri=toolkit_image,
        channels={"train": f"file://{sample_data}/train"},
        output_path=f"file://{tmp_path}",
        hyperparameters={"epochs": 1},
        instance_type="ml.g5.2xlarge",  # 1 GPU
        max_runtime_s=300,
    ).execute(task_context(task_id="train"))
    model = _archive(tmp_path / single["job_name"] / "output" / "model.tar.gz")
    assert json.loads(model["seen-algo-1.json"])["env"]["SM_NUM_GPUS"] == "1"


def test_device_ids_choose_the_gpus(on_gpu_engine, example_image, sample_data, tmp_path):
    result = _train(example_image, sample_data, tmp_path, instance_type="ml.g5.12xlarge", gpus=["1", "3"])

    model = _archive(tmp_path / result["job_name"] / "output" / "model.tar.gz")
    assert _uuids(model["gpus-algo-1"]) == ["GPU-00000000-stub-0001", "GPU-00000000-stub-0003"]


def test_more_gpus_than_the_machine_has_fails_before_anything_starts_naming_what_to_choose(
    on_gpu_engine, example_image, sample_data, tmp_path
):
    with pytest.raises(SpecError, match=r"needs 8 GPU\(s\) but this Docker engine's machine has 4") as refused:
        _train(example_image, sample_data, tmp_path, instance_type="ml.p4d.24xlarge")

    assert "Choose an instance type with fewer GPUs" in str(refused.value)
    assert list(tmp_path.iterdir()) == []
    assert managed_containers(on_gpu_engine.client) == []


def test_a_transform_on_a_gpu_type_serves_from_containers_given_distinct_gpus(on_gpu_engine, example_image, tmp_path):
    (tmp_path / "in").mkdir()
    for i in range(4):
        (tmp_path / "in" / f"part-{i}.csv").write_text("1,1,1,1,1,1,1,1\n")
    model = linear_model_archive(tmp_path / "model" / "model.tar.gz", [1.0] * 8)
    with inspected_on_start(on_gpu_engine.client, kind="transform") as inspections:
        BatchTransformOperator(
            task_id="transform",
            image_uri=example_image,
            model_uri=model,
            input_uri=f"file://{tmp_path}/in",
            output_uri=f"file://{tmp_path}/out",
            content_type="text/csv",
            instance_type="ml.g4dn.xlarge",  # 1 GPU each
            instance_count=2,
        ).execute(task_context(task_id="transform"))

    assert sorted(p.name for p in (tmp_path / "out").glob("*.out")) == [f"part-{i}.csv.out" for i in range(4)]
    assert sorted(_device_ids(inspections).values()) == [["0"], ["1"]]


def test_an_endpoint_on_a_gpu_type_serves_from_a_container_given_its_gpus(on_gpu_engine, example_image, tmp_path):
    name = f"ep-gpu-{uuid.uuid4().hex[:6]}"
    model = linear_model_archive(tmp_path / "model.tar.gz", [1.0] * 8)
    try:
        with inspected_on_start(on_gpu_engine.client, kind="endpoint") as inspections:
            deployed = DeployEndpointOperator(
                task_id="deploy",
                endpoint_name=name,
                image_uri=example_image,
                model_uri=model,
                instance_type="ml.g5.2xlarge",
            ).execute(task_context())
        with urllib.request.urlopen(f"{deployed['url']}/ping", timeout=5) as ping:
            assert ping.status == 200
        # The proxy asks for no GPU; the model container for the type's one.
        assert sorted(_device_ids(inspections).values(), key=len) == [[], ["0"]]
    finally:
        DeleteEndpointOperator(task_id="delete", endpoint_name=name).execute(task_context())


def _device_ids(inspections: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Return each started container's requested GPU device ids, by container name.

    :param inspections: `docker inspect` of the containers as they started.
    """
    return {
        i["Name"]: [d for r in i["HostConfig"].get("DeviceRequests") or [] for d in (r.get("DeviceIDs") or [])]
        for i in inspections
    }


def test_each_host_of_a_processing_job_gets_distinct_gpus(on_gpu_engine, example_image, sample_data, tmp_path):
    from ml_lifecycle import ProcessOnEC2Operator

    report = "nvidia-smi -L > /opt/ml/processing/gpus/$(hostname)"
    result = ProcessOnEC2Operator(
        task_id="process",
        image_uri=example_image,
        inputs=[{"name": "raw", "source": f"file://{sample_data}/train", "local_path": "/opt/ml/processing/input"}],
        outputs=[{"name": "gpus", "local_path": "/opt/ml/processing/gpus", "destination": f"file://{tmp_path}/gpus"}],
        entrypoint=["sh", "-c", report],
        instance_type="ml.g5.2xlarge",  # 1 GPU per host
        instance_count=2,
        max_runtime_s=300,
    ).execute(task_context(task_id="process"))

    assert result["gpus"] == f"file://{tmp_path}/gpus"
    first, second = (_uuids((tmp_path / "gpus" / host).read_text()) for host in ("algo-1", "algo-2"))
    assert len(first) == len(second) == 1
    assert first != second
