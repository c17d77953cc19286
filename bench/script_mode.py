"""Script-mode training (the code as sourcedir.tar.gz, run by PyPI's sagemaker-training in a framework-like image)
against the same code baked into an image by BuildImage's python-script template, same data, both through
TrainOnEC2Operator (local).

The script reads every row of the train channel (1,000,000 rows x 8 features, 4 files) and sums the columns in pure
Python (a ~2.5 s job here). A third side, the same sagemaker-training image with the code baked into /opt/ml/code,
separates script mode's own cost (the code channel, the toolkit's extraction) from the toolkit's start-up, which
BuildImage's lighter runner does not have. The script-mode side runs after its source archive exists (the warm-up created it), so a run
costs hashing the folder, the code channel, the toolkit's extraction and its launcher; the baked side runs
BuildImage's runner. Runs alternate, script mode first, after one warm-up each; a fresh run_id per run.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import LOGS, RESULTS, BenchError, ensure_data, fresh_dir, output_to, ratio_of, require_engine, summary

NAME = "script_mode"
TITLE = "Script-mode training vs the same code baked into an image (BuildImage python-script), same data"
DEFAULT_RUNS = 7
ROWS = 1_000_000
GOAL = 1.05
SCRIPT = """
import json, os
folder = os.environ["SM_CHANNEL_TRAIN"]
rows, sums = 0, [0.0] * 9
for name in sorted(os.listdir(folder)):
    with open(os.path.join(folder, name)) as lines:
        for line in lines:
            for index, value in enumerate(line.split(",")):
                sums[index] += float(value)
            rows += 1
with open(os.path.join(os.environ.get("SM_MODEL_DIR", "/opt/ml/model"), "sums.json"), "w") as out:
    json.dump({"rows": rows, "sums": sums}, out)
print("summed", rows, "rows")
"""


def _images(work: Path, source: Path) -> tuple[str, str, str]:
    """Build the framework-like image, the BuildImage one and the toolkit one with the code baked in; return them.

    :param work: a scratch folder.
    :param source: the code folder.
    """
    import sys

    import docker

    from bench.common import REPO

    sys.path.insert(0, str(REPO / "tests"))
    from conftest import TOOLKIT_CONTEXT, TOOLKIT_IMAGE  # the tests' image, built the same way
    from support.framework_image import framework_image

    from ml_lifecycle import BuildImageOperator

    client = docker.from_env()
    try:
        client.images.get(TOOLKIT_IMAGE)
    except docker.errors.ImageNotFound:
        import os
        import subprocess

        subprocess.run(["bash", str(REPO / "scripts" / "fetch-toolkit-wheels.sh")], check=True)
        base = os.environ.get("BASE_IMAGE", "python:3.11-slim")
        client.images.build(path=str(TOOLKIT_CONTEXT), tag=TOOLKIT_IMAGE, buildargs={"BASE_IMAGE": base}, rm=True)
    framework = framework_image(client, TOOLKIT_IMAGE)
    with output_to(LOGS / "script_mode-build.log"):
        built = BuildImageOperator(
            task_id="build",
            context_path=str(source),
            repository="ml-lifecycle-bench/script-baked",
            template="python-script",
            template_vars={"program": "train.py"},
        ).execute({"ti": None, "run_id": "bench"})
    toolkit_baked = "ml-lifecycle-bench/toolkit-baked:test"
    (work / "toolkit-baked").mkdir()
    (work / "toolkit-baked" / "train.py").write_text(SCRIPT)
    (work / "toolkit-baked" / "Dockerfile").write_text(
        f"FROM {framework}\nCOPY train.py /opt/ml/code/train.py\nENV SAGEMAKER_PROGRAM=train.py\nWORKDIR /opt/ml/code\n"
    )
    client.images.build(path=str(work / "toolkit-baked"), tag=toolkit_baked, rm=True)
    return framework, str(built["image"]), toolkit_baked


def _train(image: str, data: Path, out: Path, log: Path, source: Path | None) -> float:
    """Run one training job through the operator; return its seconds.

    :param image: the image.
    :param data: the data folder.
    :param out: the output folder.
    :param log: where the task log goes.
    :param source: the code folder for script mode, or None for the baked image.
    """
    from ml_lifecycle import TrainOnEC2Operator

    script = {"entry_point": "train.py", "source_dir": str(source)} if source else {}
    operator = TrainOnEC2Operator(
        task_id="train",
        image_uri=image,
        channels={"train": f"file://{data}/train"},
        output_path=f"file://{out}",
        max_runtime_s=600,
        **script,
    )
    context = {"ti": type("Ti", (), {"dag_id": "bench", "task_id": "train", "map_index": -1})()}
    context["run_id"] = f"bench__{uuid.uuid4().hex[:12]}"
    with output_to(log):
        started = time.perf_counter()
        result = operator.execute(context)
        elapsed = time.perf_counter() - started
    if result.get("status") != "Completed":
        raise BenchError(f"training did not complete: {result}; see {log}")
    return elapsed


def run(runs: int | None, say: Callable[[str], None]) -> dict[str, Any]:
    """Measure both sides alternately.

    :param runs: timed runs per side (default DEFAULT_RUNS).
    :param say: progress lines.
    """
    runs = runs or DEFAULT_RUNS
    require_engine()
    data = ensure_data(ROWS)
    work = fresh_dir(RESULTS / "script_mode")
    source = work / "src"
    source.mkdir()
    (source / "train.py").write_text(SCRIPT)
    # The python-script template serves too, so it wants an inference module; both sides get the same folder.
    (source / "inference.py").write_text("def model_fn(model_dir):\n    return None\n")
    framework, baked, toolkit_baked = _images(work, source)
    say(f"bench: {NAME}: framework-like image {framework}, baked image {baked}, {ROWS:,} rows")
    logs = fresh_dir(LOGS / "script_mode")
    sides: dict[str, list[float]] = {"script": [], "baked": [], "toolkit_baked": []}
    for index in range(runs + 1):
        for side, image, code in (
            ("script", framework, source),
            ("baked", baked, None),
            ("toolkit_baked", toolkit_baked, None),
        ):
            seconds = _train(image, data, work / "out", logs / f"{side}-{index}.log", code)
            if index:
                sides[side].append(seconds)
        if index:
            say(
                f"bench: {NAME}: run {index}: script mode {sides['script'][-1]:.2f} s, BuildImage-baked "
                f"{sides['baked'][-1]:.2f} s, toolkit with baked code {sides['toolkit_baked'][-1]:.2f} s"
            )
    script, baked_s, toolkit_s = summary(sides["script"]), summary(sides["baked"]), summary(sides["toolkit_baked"])
    ratio = ratio_of(script, baked_s)
    toolkit_ratio = ratio_of(script, toolkit_s)
    archives = sorted(str(p.relative_to(work)) for p in (work / "out" / "source").glob("*/sourcedir.tar.gz"))
    return {
        "runs_per_side": runs,
        "rows": ROWS,
        "script_mode": script,
        "baked": baked_s,
        "toolkit_baked": toolkit_s,
        **ratio,
        "ratio_vs_toolkit_baked": toolkit_ratio["ratio"],
        "archives_uploaded": archives,
        "figures": [
            {
                "label": "script-mode training (source archive exists) vs the code baked into an image, ~2.4 s job",
                "ours_s": script["median"],
                "baseline_s": baked_s["median"],
                "baseline": "BuildImage python-script",
                "ratio": ratio["ratio"],
                "goal": GOAL,
            },
            {
                "label": "script mode vs the same toolkit image with the code baked in /opt/ml/code (script mode's "
                "own cost: the code channel and the toolkit's extraction)",
                "ours_s": script["median"],
                "baseline_s": toolkit_s["median"],
                "baseline": "sagemaker-training, code baked",
                "ratio": toolkit_ratio["ratio"],
                "goal": GOAL,
            },
        ],
        "notes": json.dumps({"framework_image": framework, "baked_image": baked}),
    }
