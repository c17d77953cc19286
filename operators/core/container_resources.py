"""What one job container is given: memory, CPUs, GPUs, shared memory and limits, as on a SageMaker instance.

Shared memory: SageMaker publishes no /dev/shm size for its instances (users of its local mode hit Docker's 64 MB
default: sagemaker-python-sdk issues 937 and 3331; sagemaker-pytorch-training-toolkit issue 117). We give a
container half of its instance's memory, the size Linux gives /dev/shm on a machine of that memory (tmpfs
defaults to half of RAM), so PyTorch DataLoader workers behave as on an instance. tmpfs takes memory only as it
is filled, and what it holds counts against the container's memory limit.

Limits: locked memory unlimited and a 64 MiB stack, as NVIDIA's framework containers ask for (``--ulimit
memlock=-1 --ulimit stack=67108864``), so NCCL and EFA can pin their buffers; 1,048,576 open files, the ceiling
Linux allows by default (``fs.nr_open``) and Docker's own default under systemd.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.gpus import GpuRequest, gpu_request
from ml_lifecycle.core.instance_types import shape_of

UNLIMITED = -1
MIN_SHM_BYTES = 64 * 1024**2  # Docker's default; never less
_SIZE = re.compile(r"^\s*(?P<number>[0-9]+(?:\.[0-9]+)?)\s*(?P<unit>[kmgt]?i?b?)?\s*$", re.IGNORECASE)
_UNIT_BYTES = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


@dataclass(frozen=True)
class Ulimit:
    """One resource limit of a container's processes.

    :param name: the limit's name as Docker spells it (``memlock``, ``nofile``, ``stack``).
    :param soft: the soft limit (-1: unlimited).
    :param hard: the hard limit (-1: unlimited).
    """

    name: str
    soft: int
    hard: int


JOB_ULIMITS = (
    Ulimit("memlock", UNLIMITED, UNLIMITED),
    Ulimit("stack", 64 * 1024**2, 64 * 1024**2),
    Ulimit("nofile", 1_048_576, 1_048_576),
)


@dataclass(frozen=True)
class ContainerResources:
    """What the engine gives one job container.

    :param memory_bytes: a memory limit (swap included), or None for none.
    :param cpus: a CPU limit, or None for none.
    :param shm_bytes: the size of /dev/shm, or None for the engine's default.
    :param gpus: the GPUs it asks for.
    :param ulimits: its processes' limits.
    """

    memory_bytes: int | None = None
    cpus: float | None = None
    shm_bytes: int | None = None
    gpus: GpuRequest = field(default_factory=GpuRequest)
    ulimits: tuple[Ulimit, ...] = JOB_ULIMITS


def size_in_bytes(value: Any, parameter: str = "shm_size") -> int:
    """Read a size: a whole number of bytes, or a number with a unit (``512m``, ``2g``, ``1.5GiB``; powers of 1024).

    :param value: the size.
    :param parameter: the parameter name used in error messages.
    """
    match = _SIZE.match(str(value)) if not isinstance(value, bool) else None
    if match is None:
        raise SpecError(parameter, f"{value!r} is not a size", "Write bytes (e.g. 1073741824) or e.g. '512m', '2g'")
    unit = match["unit"].lower()[:1] if match["unit"] else ""
    size = int(float(match["number"]) * _UNIT_BYTES[unit])
    if size < MIN_SHM_BYTES:
        raise SpecError(parameter, f"{value!r} is below 64 MiB, Docker's default", "Write at least '64m'")
    return size


def resources_for(
    instance_type: str,
    *,
    gpus: GpuRequest | None = None,
    shm_bytes: int | None = None,
    limit_to_instance: bool,
    machine_memory_bytes: int,
    machine_cpus: int,
) -> ContainerResources:
    """Return what a container of an instance type gets on a machine.

    :param instance_type: the instance type.
    :param gpus: the GPUs it asks for; None takes the type's own.
    :param shm_bytes: the /dev/shm size; None takes half the instance's memory.
    :param limit_to_instance: cap memory and CPUs at the type's (a shared machine); False on an instance of that
        type, where the container has the whole machine.
    :param machine_memory_bytes: the memory of the machine the engine runs on.
    :param machine_cpus: the CPUs of that machine.
    """
    shape = shape_of(instance_type)
    limited = shape is not None and limit_to_instance
    # /dev/shm follows the instance type even where memory is not capped (a transform or endpoint sharing the
    # machine): half of a 256 GiB host would not be what an ml.m5.large gives.
    instance_memory_bytes = shape.memory_bytes if shape else machine_memory_bytes
    return ContainerResources(
        memory_bytes=instance_memory_bytes if limited else None,
        cpus=min(float(shape.vcpus), float(machine_cpus)) if limited and shape else None,
        shm_bytes=shm_bytes if shm_bytes is not None else max(MIN_SHM_BYTES, instance_memory_bytes // 2),
        gpus=gpus if gpus is not None else gpu_request(instance_type),
    )
