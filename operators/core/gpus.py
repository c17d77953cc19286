"""How many NVIDIA GPUs each EC2 / SageMaker instance type has, and which GPUs a job's container asks for.

The counts are AWS's published figures (the EC2 "Accelerated computing" instance type pages, and the SageMaker
pricing page for the ``ml.`` types); checked on 2026-12-07. Types with AMD GPUs (g4ad), fractional GPUs (g6f,
gr6f) and AWS's own accelerators (inf*, trn*) are not listed: a container gets NVIDIA GPUs through the engine's
``gpu`` device requests, which none of those speak.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ml_lifecycle.core.errors import SpecError

# Docker's spelling of device ids in ``--gpus``: ``"device=0,2"``.
DEVICE_PREFIX = "device="

# family -> size -> GPUs.
GPUS_BY_TYPE: dict[str, dict[str, int]] = {
    "p2": {"xlarge": 1, "8xlarge": 8, "16xlarge": 16},
    "p3": {"2xlarge": 1, "8xlarge": 4, "16xlarge": 8},
    "p3dn": {"24xlarge": 8},
    "p4d": {"24xlarge": 8},
    "p4de": {"24xlarge": 8},
    "p5": {"4xlarge": 1, "48xlarge": 8},
    "p5e": {"48xlarge": 8},
    "p5en": {"48xlarge": 8},
    "p6-b200": {"48xlarge": 8},
    "g3": {"4xlarge": 1, "8xlarge": 2, "16xlarge": 4},
    "g3s": {"xlarge": 1},
    "g4dn": {"xlarge": 1, "2xlarge": 1, "4xlarge": 1, "8xlarge": 1, "16xlarge": 1, "12xlarge": 4, "metal": 8},
    "g5": {
        "xlarge": 1,
        "2xlarge": 1,
        "4xlarge": 1,
        "8xlarge": 1,
        "16xlarge": 1,
        "12xlarge": 4,
        "24xlarge": 4,
        "48xlarge": 8,
    },
    "g5g": {"xlarge": 1, "2xlarge": 1, "4xlarge": 1, "8xlarge": 1, "16xlarge": 2, "metal": 2},
    "g6": {
        "xlarge": 1,
        "2xlarge": 1,
        "4xlarge": 1,
        "8xlarge": 1,
        "16xlarge": 1,
        "12xlarge": 4,
        "24xlarge": 4,
        "48xlarge": 8,
    },
    "gr6": {"4xlarge": 1, "8xlarge": 1},
    "g6e": {
        "xlarge": 1,
        "2xlarge": 1,
        "4xlarge": 1,
        "8xlarge": 1,
        "16xlarge": 1,
        "12xlarge": 4,
        "24xlarge": 4,
        "48xlarge": 8,
    },
}


def gpus_of(instance_type: str) -> int:
    """Return how many GPUs an instance type has (0 for types without NVIDIA GPUs).

    :param instance_type: e.g. ``ml.g5.12xlarge`` or ``g5.12xlarge``.
    """
    family, _, size = instance_type.removeprefix("ml.").partition(".")
    sizes = GPUS_BY_TYPE.get(family)
    if sizes is None:
        return 0
    if size not in sizes:
        raise SpecError(
            "instance_type",
            f"{instance_type!r} is not a size of the GPU family {family} this version knows",
            f"Use one of {', '.join(f'{family}.{s}' for s in sizes)}, or say how many GPUs with gpus=",
        )
    return sizes[size]


@dataclass(frozen=True)
class GpuRequest:
    """The GPUs one container asks the engine for.

    :param count: how many (0: none, -1: all the machine has).
    :param device_ids: the GPUs by index or UUID, when given instead of a count.
    """

    count: int = 0
    device_ids: tuple[str, ...] = ()

    @property
    def wanted(self) -> bool:
        """Say whether the container asks for any GPU."""
        return self.count != 0 or bool(self.device_ids)

    def visible(self) -> int | None:
        """Return how many GPUs the container sees, or None for all the machine has."""
        if self.device_ids:
            return len(self.device_ids)
        return None if self.count < 0 else self.count


def gpu_request(instance_type: str, gpus: Any = None) -> GpuRequest:
    """Return the GPUs a container of an instance type asks for: the type's own, or the ``gpus=`` override.

    :param instance_type: the instance type.
    :param gpus: None (the type's), a count (0 runs a GPU type on the CPU, for debugging), ``"all"``, device ids
        as a list (``["0", "2"]``, or GPU UUIDs) or in Docker's form (``"device=0,2"``).
    """
    if gpus is None:
        return GpuRequest(count=gpus_of(instance_type))
    if gpus == "all":
        return GpuRequest(count=-1)
    if isinstance(gpus, bool):
        raise SpecError("gpus", f"{gpus!r} is not a GPU count", 'Write a count (e.g. 2), "all", or device ids')
    if isinstance(gpus, int | str) and str(gpus).strip().isdigit():
        return GpuRequest(count=int(str(gpus).strip()))
    if isinstance(gpus, str) and gpus.startswith(DEVICE_PREFIX):
        gpus = gpus.removeprefix(DEVICE_PREFIX).split(",")
    if isinstance(gpus, list | tuple) and gpus and all(isinstance(g, str | int) and str(g).strip() for g in gpus):
        ids = tuple(str(g).strip() for g in gpus)
        if len(set(ids)) != len(ids):
            raise SpecError("gpus", f"{list(gpus)!r} names a device twice", "Name each GPU once")
        return GpuRequest(device_ids=ids)
    raise SpecError(
        "gpus", f"{gpus!r} is not a GPU count", 'Write a count (e.g. 2), "all", or device ids ("device=0,1")'
    )


def canonical_gpus(gpus: Any) -> str | None:
    """Return the ``gpus=`` override in one JSON-safe form (``"2"``, ``"all"``, ``"device=0,2"``), or None.

    :param gpus: the override as the operator took it.
    """
    if gpus is None or gpus == "":
        return None
    request = gpu_request("", gpus)
    if request.device_ids:
        return DEVICE_PREFIX + ",".join(request.device_ids)
    return "all" if request.count < 0 else str(request.count)


@dataclass(frozen=True)
class GpuAssignment:
    """The GPUs each host of a job on one machine gets.

    :param per_host: one request per host, in host order.
    :param shared: whether some hosts got the same GPUs (the machine has fewer than the hosts together need).
    """

    per_host: list[GpuRequest]
    shared: bool = False


def assign_gpus(request: GpuRequest, hosts: int, available: list[str]) -> GpuAssignment:
    """Give the hosts of a job on one machine their GPUs: distinct ones when the machine has enough, else shared.

    :param request: what each host asks for.
    :param hosts: how many hosts run on this machine.
    :param available: the machine's GPU ids (``nvidia-smi`` indexes or UUIDs), in order.
    """
    if not request.wanted:
        return GpuAssignment([request] * hosts)
    if request.device_ids:
        missing = [d for d in request.device_ids if d not in available]
        if missing:
            raise SpecError(
                "gpus",
                f"names GPUs {missing} this Docker engine's machine does not have (it has {available or 'none'})",
                "Name GPUs the machine has (indexes or UUIDs from nvidia-smi -L), or give a count",
            )
        return GpuAssignment([request] * hosts, shared=hosts > 1)
    each = request.count if request.count > 0 else max(1, len(available) // hosts)
    if each > len(available) or not available:
        raise SpecError(
            "gpus",
            f"each host needs {each} GPU(s) but this Docker engine's machine has {len(available)}",
            "Choose an instance type with fewer GPUs, give gpus= a smaller count (gpus=0 runs on the CPU, for "
            "debugging), or run on EC2",
        )
    shared = each * hosts > len(available)
    per_host = [
        GpuRequest(device_ids=tuple(available[(h * each + i) % len(available)] for i in range(each)))
        for h in range(hosts)
    ]
    return GpuAssignment(per_host, shared)
