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
    # GPU types (their GPUs are in core.gpus).
    **{
        f"{family}.{size}": shape
        for family in ("g4dn", "g5", "g6")
        for size, shape in {
            "xlarge": InstanceShape(4, 16),
            "2xlarge": InstanceShape(8, 32),
            "4xlarge": InstanceShape(16, 64),
            "8xlarge": InstanceShape(32, 128),
            "12xlarge": InstanceShape(48, 192),
            "16xlarge": InstanceShape(64, 256),
            "24xlarge": InstanceShape(96, 384),
            "48xlarge": InstanceShape(192, 768),
        }.items()
        if not (family == "g4dn" and size in ("24xlarge", "48xlarge"))
    },
    "g4dn.metal": InstanceShape(96, 384),
    "g6e.xlarge": InstanceShape(4, 32),
    "g6e.2xlarge": InstanceShape(8, 64),
    "g6e.4xlarge": InstanceShape(16, 128),
    "g6e.8xlarge": InstanceShape(32, 256),
    "g6e.12xlarge": InstanceShape(48, 384),
    "g6e.16xlarge": InstanceShape(64, 512),
    "g6e.24xlarge": InstanceShape(96, 768),
    "g6e.48xlarge": InstanceShape(192, 1536),
    "p3.2xlarge": InstanceShape(8, 61),
    "p3.8xlarge": InstanceShape(32, 244),
    "p3.16xlarge": InstanceShape(64, 488),
    "p3dn.24xlarge": InstanceShape(96, 768),
    "p4d.24xlarge": InstanceShape(96, 1152),
    "p4de.24xlarge": InstanceShape(96, 1152),
    "p5.4xlarge": InstanceShape(16, 256),
    "p5.48xlarge": InstanceShape(192, 2048),
    "p5e.48xlarge": InstanceShape(192, 2048),
    "p5en.48xlarge": InstanceShape(192, 2048),
}


def shape_of(instance_type: str) -> InstanceShape | None:
    """Return the size of an instance type, or None when it is not known (then no limit applies locally).

    :param instance_type: e.g. ``ml.m5.large`` or ``m5.large``.
    """
    return _SHAPES.get(instance_type.removeprefix("ml."))
