"""ProcessOnEC2Operator(compute="local").execute() against a plain ``docker run`` of the same processing container.

Both sides run the example processing image (a train/validation split of CSV rows, standard-library Python) on the
same mounted input folder, alternated in one loop (ours, docker run, ...) after one warm-up each. The baseline mounts
the input read-only and two empty output folders and is timed from the ``docker run --rm`` command's start to its
exit. Our side is timed around ``execute()`` and includes everything it does: reading earlier records, the preflight
(image, inputs), the job's agent, /opt/ml/config's two documents, the container, log streaming, uploading both
outputs to their file:// destinations, the job record and the cleanup. A fresh run_id per run: nothing is reused.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import LOGS, RESULTS, BenchError, ensure_data, fresh_dir, output_to, ratio_of, require_engine, summary

NAME = "process"
TITLE = "Processing: ProcessOnEC2Operator (local) vs docker run of the same container and inputs"
DEFAULT_RUNS = 5
GOAL = 1.10  # on the ~4 s job; a ~1 s job shows the fixed cost
CASES = (
    {"case": "4s", "rows": 4_000_000, "label": "~4 s job (a train/validation split of 4,000,000 rows)", "goal": GOAL},
    {"case": "1s", "rows": 1_000_000, "label": "~1 s job (a train/validation split of 1,000,000 rows)", "goal": None},
)
ARGUMENTS = ["--validation-fraction", "0.2"]
OUTPUTS = ("train", "validation")


def _image() -> str:
    """Build the example processing image (as the tests build it) and return its tag."""
    import sys

    import docker

    from bench.common import REPO

    sys.path.insert(0, str(REPO / "tests"))
    import os

    from conftest import PROCESSING_CONTEXT, PROCESSING_IMAGE

    base = os.environ.get("BASE_IMAGE", "python:3.11-slim")
    docker.from_env().images.build(
        path=str(PROCESSING_CONTEXT), tag=PROCESSING_IMAGE, buildargs={"BASE_IMAGE": base}, rm=True
    )
    return PROCESSING_IMAGE


def _docker_run(image: str, data: Path, out: Path, log: Path) -> float:
    """Time ``docker run --rm`` of the image on the input; return its seconds.

    :param image: the processing image.
    :param data: the input folder.
    :param out: where the two outputs are written (emptied first).
    :param log: where the container's output goes.
    """
    fresh_dir(out)
    command = ["docker", "run", "--rm", "-v", f"{data}:/opt/ml/processing/input:ro"]
    for name in OUTPUTS:
        (out / name).mkdir()
        command += ["-v", f"{out / name}:/opt/ml/processing/{name}"]
    with open(log, "ab") as sink:
        started = time.perf_counter()
        code = subprocess.run([*command, image, *ARGUMENTS], stdout=sink, stderr=subprocess.STDOUT).returncode
        elapsed = time.perf_counter() - started
    if code != 0 or not (out / "train" / "algo-1.csv").is_file():
        raise BenchError(f"docker run {image} failed ({code}); see {log}")
    return elapsed


def _process(image: str, data: Path, out: Path, log: Path) -> float:
    """Run the job through the operator; return its seconds.

    :param image: the processing image.
    :param data: the input folder.
    :param out: the outputs' destinations' parent (emptied first).
    :param log: where the task log goes.
    """
    from ml_lifecycle import ProcessOnEC2Operator

    fresh_dir(out)
    operator = ProcessOnEC2Operator(
        task_id="process",
        image_uri=image,
        inputs=[{"name": "raw", "source": f"file://{data}", "local_path": "/opt/ml/processing/input"}],
        outputs=[
            {"name": name, "local_path": f"/opt/ml/processing/{name}", "destination": f"file://{out}/{name}"}
            for name in OUTPUTS
        ],
        arguments=ARGUMENTS,
        records_uri=f"file://{out.parent}/records",
        max_runtime_s=600,
    )
    elapsed, result = _timed_execute(operator, log)
    if result.get("status") != "Completed" or not (out / "train" / "algo-1.csv").is_file():
        raise BenchError(f"processing did not complete: {result}; see {log}")
    return elapsed


def _timed_execute(operator: Any, log: Path) -> tuple[float, dict[str, Any]]:
    """Run the operator's execute() as a fresh task instance of DAG ``bench``; return its seconds and XCom value.

    :param operator: the operator.
    :param log: where the task log goes.
    """
    ti = type("Ti", (), {"dag_id": "bench", "task_id": operator.task_id, "map_index": -1})()
    with output_to(log):
        started = time.perf_counter()
        result = operator.execute({"ti": ti, "run_id": f"bench__{uuid.uuid4().hex[:12]}"})
        return time.perf_counter() - started, result


def run(runs: int | None, say: Callable[[str], None]) -> dict[str, Any]:
    """Measure both sides alternately, for each case.

    :param runs: timed runs per side (default DEFAULT_RUNS).
    :param say: progress lines.
    """
    runs = runs or DEFAULT_RUNS
    require_engine()
    image = _image()
    work = fresh_dir(RESULTS / "process")
    logs = fresh_dir(LOGS / "process")
    cases: list[dict[str, Any]] = []
    for case in CASES:
        data = ensure_data(int(case["rows"])) / "train"
        say(f"bench: {NAME}: {case['label']}, image {image}, {len(list(data.iterdir()))} files")
        sides: dict[str, list[float]] = {"ours": [], "docker_run": []}
        for index in range(runs + 1):
            ours = _process(image, data, work / "ours", logs / f"{case['case']}-ours-{index}.log")
            baseline = _docker_run(image, data, work / "docker", logs / f"{case['case']}-docker-{index}.log")
            if index:
                sides["ours"].append(ours)
                sides["docker_run"].append(baseline)
                say(f"bench: {NAME}: {case['case']} run {index}: ours {ours:.2f} s, docker run {baseline:.2f} s")
        ours_s, baseline_s = summary(sides["ours"]), summary(sides["docker_run"])
        cases.append({**case, "ours": ours_s, "docker_run": baseline_s, **ratio_of(ours_s, baseline_s)})
    return {
        "runs_per_side": runs,
        "cases": cases,
        "ratio": cases[0]["ratio"],
        "figures": [
            {
                "label": f"processing, {case['label']}: inputs staged, outputs uploaded to file://",
                "ours_s": case["ours"]["median"],
                "baseline_s": case["docker_run"]["median"],
                "baseline": "docker run",
                "ratio": case["ratio"],
                "goal": case["goal"],
            }
            for case in cases
        ],
    }
