"""What an instance type gives a job: on the local engine its containers get the same memory and CPUs."""

from __future__ import annotations

from dataclasses import dataclass

GIB = 1024**3


@dataclass(frozen=True)
class InstanceShape:
    """The size of an instance type.

    :param vcpus: virtual CPUs.
    :param memory_gib: memory in GiB.
    """

    vcpus: int
    memory_gib: float

    @property
    def memory_bytes(self) -> int:
        """Memory in bytes."""
        return int(self.memory_gib * GIB)


# Published sizes of common SageMaker / EC2 types (the "ml." prefix is dropped before lookup).
_SHAPES = {
    "t3.micro": InstanceShape(2, 1),
    "t3.small": InstanceShape(2, 2),
    "t3.medium": InstanceShape(2, 4),
    "t3.large": InstanceShape(2, 8),
    "t3.xlarge": InstanceShape(4, 16),
    "t3.2xlarge": InstanceShape(8, 32),
    "m5.large": InstanceShape(2, 8),
    "m5.xlarge": InstanceShape(4, 16),
    "m5.2xlarge": InstanceShape(8, 32),
    "m5.4xlarge": InstanceShape(16, 64),
    "c5.large": InstanceShape(2, 4),
    "c5.xlarge": InstanceShape(4, 8),
    "c5.2xlarge": InstanceShape(8, 16),
    "c5.4xlarge": InstanceShape(16, 32),
    "r5.large": InstanceShape(2, 16),
    "r5.xlarge": InstanceShape(4, 32),
    "g4dn.xlarge": InstanceShape(4, 16),
    "g5.xlarge": InstanceShape(4, 16),
    "g5.2xlarge": InstanceShape(8, 32),
    "p3.2xlarge": InstanceShape(8, 61),
}


def shape_of(instance_type: str) -> InstanceShape | None:
    """Return the size of an instance type, or None when it is not known (then no limit applies locally).

    :param instance_type: e.g. ``ml.m5.large`` or ``m5.large``.
    """
    return _SHAPES.get(instance_type.removeprefix("ml."))
