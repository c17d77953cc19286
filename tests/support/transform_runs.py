"""Helpers of the transform tests: a transform run in a process whose memory is capped, and large generated input."""

from __future__ import annotations

from pathlib import Path

# Run a transform in a fresh process under RLIMIT_AS; print its status, metrics and peak RSS as the last line.
# argv: the address-space limit in MB, the TransformSpec as JSON, the job name.
BOUNDED_RUN = r"""
import json, resource, sys
limit = int(sys.argv[1]) << 20
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))  # address space: the process cannot hold more, at all
from ml_lifecycle import settings
from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine
from ml_lifecycle.compute.local.transform.runner import TransformRunner
from ml_lifecycle.core.specs import TransformSpec
from ml_lifecycle.stores import store_for
spec = TransformSpec(**json.loads(sys.argv[2]))
record = TransformRunner(DockerEngine(), store_for, settings.work_dir(), settings.serving_host()).run(spec, sys.argv[3], {}, print)
# VmHWM is this process's own high-water mark; ru_maxrss would carry the forking parent's (it survives exec).
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
peak_mb = int(hwm.split()[1]) / 1024
print(json.dumps({"status": record.status, "metrics": record.metrics, "peak_rss_mb": peak_mb}))
"""


def write_numbered_lines(path: Path, size_mb: int, width: int = 1024) -> int:
    """Write lines of ``width`` bytes, each starting with its number, until the file holds size_mb MB.

    :param path: the file.
    :param size_mb: its size in MB.
    :param width: bytes per line, newline included.
    """
    pad = "x" * (width - 14)
    lines_per_block = 1024
    blocks = size_mb * 1024 * 1024 // (width * lines_per_block)
    with path.open("w") as out:
        for block in range(blocks):
            first = block * lines_per_block
            out.write("".join(f"{n:012d},{pad}\n" for n in range(first, first + lines_per_block)))
    return blocks * lines_per_block
