"""Training under faults: the out-of-memory killer, a full disk while exporting; nothing lost, nothing left."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from support.helpers import managed_containers, task_context

from ml_lifecycle import TrainOnEC2Operator
from ml_lifecycle.errors import JobFailed

pytestmark = pytest.mark.docker

ALLOCATE_2_GIB = "import time; blocks = [bytearray(64 * 1024 * 1024) for _ in range(32)]; time.sleep(1)"


def test_the_oom_killer_is_reported_as_out_of_memory(example_image, sample_data, tmp_path, ml_home, docker_client):
    context = task_context()
    op = TrainOnEC2Operator(
        task_id="train",
        image_uri=example_image,
        channels={"train": f"file://{sample_data}/train"},
        output_path=f"file://{tmp_path}/out",
        instance_type="ml.t3.micro",
        entrypoint=["python3", "-c", ALLOCATE_2_GIB],
    )
    with pytest.raises(JobFailed, match="out of memory") as caught:
        op.execute(context)
    assert caught.value.status == "Failed"
    record = json.loads(next((tmp_path / "out").glob("*/status.json")).read_text())
    assert record["exit_codes"] == {"algo-1": 137}
    assert managed_containers(docker_client, run_id=context["run_id"]) == []


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A 1 MiB tmpfs to use as the artifact root (needs root, as on this project's machines)."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)], capture_output=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_full_disk_while_exporting_fails_clearly_and_leaves_no_partial_archive(
    example_image, sample_data, tmp_path, ml_home, docker_client, tiny_disk
):
    # 3 MiB of random bytes do not compress below the 1 MiB the artifact root has.
    write_big_model = "head -c 3145728 /dev/urandom > /opt/ml/model/weights.bin"
    context = task_context()
    op = TrainOnEC2Operator(
        task_id="train",
        image_uri=example_image,
        channels={"train": f"file://{sample_data}/train"},
        output_path=f"file://{tiny_disk}",
        entrypoint=["sh", "-c", write_big_model],
    )
    with pytest.raises(JobFailed, match="No space left on device"):
        op.execute(context)

    leftovers = [p.name for p in tiny_disk.rglob("*") if p.is_file()]
    assert "model.tar.gz" not in leftovers
    assert [name for name in leftovers if name.startswith(".tmp-")] == []
    assert managed_containers(docker_client, run_id=context["run_id"]) == []
