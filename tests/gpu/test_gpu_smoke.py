"""On a machine with a GPU: a job on a GPU instance type sees its GPU through nvidia-smi and through CUDA itself.

This machine has none, so here it skips with the engine's own reason (the same probe the operators run); where the
NVIDIA driver and Container Toolkit are installed it runs unchanged, on the default Docker engine.
"""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any

import pytest
from support.helpers import task_context

from ml_lifecycle import TrainOnEC2Operator
from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine
from ml_lifecycle.errors import GpuUnavailable

pytestmark = pytest.mark.docker

# libcuda.so.1 is put into the container by the NVIDIA Container Toolkit; asking the driver API needs no CUDA toolkit.
CUDA_DEVICE_COUNT = """
import ctypes
cuda = ctypes.CDLL("libcuda.so.1")
assert cuda.cuInit(0) == 0, "cuInit failed"
count = ctypes.c_int()
assert cuda.cuDeviceGetCount(ctypes.byref(count)) == 0, "cuDeviceGetCount failed"
print(count.value)
"""
REPORT = 'nvidia-smi -L > /opt/ml/model/nvidia-smi && python3 -c "$CUDA_DEVICE_COUNT" > /opt/ml/model/cuda-devices'


@pytest.fixture
def engine_gpus(docker_client: Any, example_image: str) -> dict[str, str]:
    """The default engine's GPUs; skips, saying why, where it has none."""
    try:
        return DockerEngine().gpu_ids(example_image)
    except GpuUnavailable as err:
        pytest.skip(f"no GPU on this Docker engine's machine: {err}")


def test_a_gpu_type_job_sees_its_gpu_in_nvidia_smi_and_in_cuda(
    engine_gpus, ml_home, example_image, sample_data, tmp_path
):
    assert engine_gpus, "the probe listed no GPU"
    result = TrainOnEC2Operator(
        task_id="train",
        image_uri=example_image,
        channels={"train": f"file://{sample_data}/train"},
        output_path=f"file://{tmp_path}",
        entrypoint=["sh", "-c", REPORT],
        environment={"CUDA_DEVICE_COUNT": CUDA_DEVICE_COUNT, "NVIDIA_DRIVER_CAPABILITIES": "compute,utility"},
        instance_type="ml.g4dn.xlarge",  # 1 GPU
        max_runtime_s=600,
    ).execute(task_context(task_id="train"))

    with tarfile.open(Path(tmp_path) / result["job_name"] / "output" / "model.tar.gz") as tar:
        files = {m.name: tar.extractfile(m).read().decode() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
    assert files["nvidia-smi"].count("UUID: GPU-") == 1, files["nvidia-smi"]
    assert files["cuda-devices"].strip() == "1"
