"""GPU counts by instance type, the gpus= override, and distinct GPUs for the hosts of a job on one machine."""

from __future__ import annotations

from typing import Any

import pytest

from ml_lifecycle.core.gpus import GPUS_BY_TYPE, GpuRequest, assign_gpus, canonical_gpus, gpu_request, gpus_of
from ml_lifecycle.errors import SpecError


@pytest.mark.parametrize(
    ("instance_type", "gpus"),
    [
        ("ml.m5.large", 0),
        ("c5.xlarge", 0),
        ("ml.inf2.xlarge", 0),  # Inferentia: not an NVIDIA GPU
        ("ml.g4dn.xlarge", 1),
        ("g4dn.12xlarge", 4),
        ("g4dn.metal", 8),
        ("ml.g5.xlarge", 1),
        ("ml.g5.12xlarge", 4),
        ("ml.g5.48xlarge", 8),
        ("ml.g6.24xlarge", 4),
        ("ml.g6e.12xlarge", 4),
        ("gr6.8xlarge", 1),
        ("ml.p3.2xlarge", 1),
        ("ml.p3.8xlarge", 4),
        ("ml.p3.16xlarge", 8),
        ("p3dn.24xlarge", 8),
        ("ml.p4d.24xlarge", 8),
        ("ml.p4de.24xlarge", 8),
        ("ml.p5.48xlarge", 8),
        ("p5.4xlarge", 1),
        ("ml.p5e.48xlarge", 8),
        ("p6-b200.48xlarge", 8),
        ("p2.16xlarge", 16),
    ],
)
def test_each_type_has_its_published_gpu_count(instance_type: str, gpus: int) -> None:
    assert gpus_of(instance_type) == gpus


def test_an_unknown_size_of_a_gpu_family_is_refused_naming_the_sizes() -> None:
    with pytest.raises(SpecError, match=r"g5\.xlarge") as refused:
        gpus_of("ml.g5.3xlarge")
    assert refused.value.parameter == "instance_type"


def test_every_family_lists_whole_positive_counts() -> None:
    assert all(n > 0 for sizes in GPUS_BY_TYPE.values() for n in sizes.values())


@pytest.mark.parametrize(
    ("gpus", "expected"),
    [
        (None, GpuRequest(count=4)),
        (0, GpuRequest(count=0)),
        ("2", GpuRequest(count=2)),
        ("all", GpuRequest(count=-1)),
        (["0", "2"], GpuRequest(device_ids=("0", "2"))),
        ("device=0,2", GpuRequest(device_ids=("0", "2"))),
        ([1, "GPU-1f2e"], GpuRequest(device_ids=("1", "GPU-1f2e"))),
    ],
)
def test_the_override_takes_a_count_all_or_device_ids(gpus: Any, expected: GpuRequest) -> None:
    assert gpu_request("ml.g5.12xlarge", gpus) == expected


@pytest.mark.parametrize("gpus", [True, -1, "many", [], ["0", "0"], [""], {"count": 1}])
def test_a_bad_override_is_refused(gpus: Any) -> None:
    with pytest.raises(SpecError) as refused:
        gpu_request("ml.g5.xlarge", gpus)
    assert refused.value.parameter == "gpus"


@pytest.mark.parametrize(
    ("gpus", "canonical"),
    [
        (None, None),
        ("", None),
        (2, "2"),
        ("0", "0"),
        ("all", "all"),
        (["0", 2], "device=0,2"),
        ("device=1", "device=1"),
    ],
)
def test_the_override_has_one_json_safe_form_that_reads_back_the_same(gpus: Any, canonical: str | None) -> None:
    assert canonical_gpus(gpus) == canonical
    if canonical is not None:
        assert gpu_request("ml.g5.xlarge", canonical) == gpu_request("ml.g5.xlarge", gpus)


@pytest.mark.parametrize(
    ("request_", "hosts", "available", "expected", "shared"),
    [
        (GpuRequest(count=1), 2, ["0", "1"], [("0",), ("1",)], False),
        (GpuRequest(count=2), 2, ["0", "1", "2", "3"], [("0", "1"), ("2", "3")], False),
        (GpuRequest(count=-1), 2, ["0", "1", "2", "3"], [("0", "1"), ("2", "3")], False),
        (GpuRequest(count=-1), 1, ["0", "1"], [("0", "1")], False),
        (GpuRequest(device_ids=("3",)), 1, ["0", "1", "2", "3"], [("3",)], False),
        # Fewer GPUs than the hosts together need: they share, each host still gets its count.
        (GpuRequest(count=1), 3, ["0", "1"], [("0",), ("1",), ("0",)], True),
        (GpuRequest(count=2), 2, ["a", "b", "c"], [("a", "b"), ("c", "a")], True),
        (GpuRequest(count=-1), 3, ["0", "1"], [("0",), ("1",), ("0",)], True),
        (GpuRequest(device_ids=("1",)), 2, ["0", "1"], [("1",), ("1",)], True),
    ],
)
def test_hosts_on_one_machine_get_distinct_gpus_when_there_are_enough(
    request_: GpuRequest, hosts: int, available: list[str], expected: list[tuple[str, ...]], shared: bool
) -> None:
    assignment = assign_gpus(request_, hosts, available)
    assert [r.device_ids for r in assignment.per_host] == expected
    assert assignment.shared is shared


@pytest.mark.parametrize(
    ("request_", "hosts", "available"),
    [(GpuRequest(count=4), 1, ["0", "1"]), (GpuRequest(count=1), 1, []), (GpuRequest(count=-1), 1, [])],
)
def test_more_gpus_per_host_than_the_machine_has_is_refused_saying_what_to_choose(
    request_: GpuRequest, hosts: int, available: list[str]
) -> None:
    with pytest.raises(SpecError, match="Choose an instance type with fewer GPUs"):
        assign_gpus(request_, hosts, available)


def test_device_ids_the_machine_lacks_are_refused_naming_them() -> None:
    with pytest.raises(SpecError, match=r"\['7'\]"):
        assign_gpus(GpuRequest(device_ids=("0", "7")), 1, ["0", "1"])


def test_no_gpus_wanted_leaves_every_host_without() -> None:
    assert assign_gpus(GpuRequest(), 3, []).per_host == [GpuRequest()] * 3
