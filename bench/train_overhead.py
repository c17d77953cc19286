"""TrainOnEC2Operator(compute="local").execute() against a plain ``docker run <image> train`` on the same data.

Both sides run the example linear image on the same mounted training folder, alternated in one loop (ours, docker
run, ours, docker run, ...) after one warm-up each. The baseline's /opt/ml layout is built by hand before the clock
starts and the clock runs from the ``docker run --rm`` command's start to its exit. Our side is timed around
``execute()`` in this process: it includes reading earlier records, the image lookup, staging, the config files,
container create/start, log streaming and metric scanning, packing and uploading model.tar.gz/output.tar.gz, the
job record and the cleanup. A fresh run_id per run means nothing is reused.

Our side's steps are timed by wrapping the runner's methods (a few microseconds per run); the time of each step
excludes the steps it calls.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import shutil
import statistics
import subprocess
import threading
import time
import types
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.common import (
    BENCH_IMAGE,
    LOGS,
    RESULTS,
    BenchError,
    ensure_bench_image,
    ensure_data,
    env_vars,
    fresh_dir,
    output_to,
    ratio_of,
    require_engine,
    summary,
    tail,
)

NAME = "train_overhead"
TITLE = "Training overhead: TrainOnEC2Operator (local) vs docker run"
DEFAULT_RUNS = 5
GOAL = 1.15  # on the ~5 s job
CASES = (
    {"case": "5s", "rows": 1_000_000, "label": "~5 s job (1,000,000 rows x 8 features)", "goal": GOAL},
    {"case": "subsecond", "rows": 100_000, "label": "sub-second job (100,000 rows x 8 features)", "goal": None},
)
HYPERPARAMETERS = {"l2": "0.01"}
INSTANCE_TYPE = "ml.m5.large"
COMPLETE_RE = re.compile(r"training complete in ([0-9.]+) s")
OTHER = "everything else (spec, stores, config files, operator glue)"


# ------------------------------------------------------------------------------------------ baseline
def _hand_layout(root: Path) -> Path:
    """Write /opt/ml/input/config, model/ and output/ by hand, as SageMaker would for one host."""
    config = root / "input" / "config"
    config.mkdir(parents=True)
    (root / "model").mkdir()
    (root / "output").mkdir()
    (config / "hyperparameters.json").write_text(json.dumps(HYPERPARAMETERS))
    (config / "inputdataconfig.json").write_text(
        json.dumps(
            {
                "train": {
                    "TrainingInputMode": "File",
                    "S3DistributionType": "FullyReplicated",
                    "RecordWrapperType": "None",
                }
            }
        )
    )
    group = "homogeneousCluster"
    (config / "resourceconfig.json").write_text(
        json.dumps(
            {
                "current_host": "algo-1",
                "current_instance_type": INSTANCE_TYPE,
                "current_group_name": group,
                "hosts": ["algo-1"],
                "instance_groups": [
                    {"instance_group_name": group, "instance_type": INSTANCE_TYPE, "hosts": ["algo-1"]}
                ],
                "network_interface_name": "eth0",
            }
        )
    )
    return root


def _docker_run(train_dir: Path, root: Path, log_path: Path) -> float:
    """Time ``docker run --rm`` of the image's ``train`` on a hand-built layout; return seconds."""
    _hand_layout(root)
    command = [
        "docker",
        "run",
        "--rm",
        "-v",
        f"{root / 'input' / 'config'}:/opt/ml/input/config:ro",
        "-v",
        f"{train_dir}:/opt/ml/input/data/train:ro",
        "-v",
        f"{root / 'model'}:/opt/ml/model",
        "-v",
        f"{root / 'output'}:/opt/ml/output",
        BENCH_IMAGE,
        "train",
    ]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        started = time.perf_counter()
        code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False).returncode
        elapsed = time.perf_counter() - started
    if code != 0 or not (root / "model" / "model.json").is_file():
        raise BenchError(f"docker run ... {BENCH_IMAGE} train failed ({code}):\n{tail(log_path)}")
    return elapsed


# ------------------------------------------------------------------------------------------ our side
class PhaseClock:
    """Accumulates the exclusive time of wrapped calls made on the main thread, per label."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self._local = threading.local()
        self._main = threading.main_thread()

    def reset(self) -> None:
        self.totals = defaultdict(float)

    def wrap(self, func: Callable[..., Any], label: str) -> Callable[..., Any]:
        clock = self

        @functools.wraps(func)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if threading.current_thread() is not clock._main:
                return func(*args, **kwargs)
            stack = clock._local.__dict__.setdefault("stack", [])
            frame = [0.0]
            stack.append(frame)
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                stack.pop()
                clock.totals[label] += elapsed - frame[0]
                if stack:
                    stack[-1][0] += elapsed

        return timed


@contextlib.contextmanager
def instrumented(clock: PhaseClock) -> Iterator[None]:
    """Wrap the steps of a training run with the clock; restore everything afterwards."""
    from ml_lifecycle.agent import attempts, training
    from ml_lifecycle.agent.host_watch import HostWatcher
    from ml_lifecycle.agent.records import RecordWriter
    from ml_lifecycle.compute.docker_engine import DockerEngine

    targets = [
        (attempts, "choose_attempt", "read earlier job records (choose_attempt)"),
        (RecordWriter, "transition", "write status.json at each transition"),
        (DockerEngine, "ensure_image", "image lookup (ensure_image)"),
        (training, "stage_channels", "stage channels (list, lineage, mount in place)"),
        (DockerEngine, "run", "container create + start (engine.run)"),
        (HostWatcher, "watch", "container runs, log streamed, wait for exit"),
        (training.TrainingRunner, "_export", "pack + upload model.tar.gz and output.tar.gz"),
        (training.TrainingRunner, "_clean_up", "cleanup (remove container, work folder)"),
    ]
    saved: list[tuple[Any, str, Any]] = []
    try:
        for owner, attr, label in targets:
            original = owner.__dict__[attr]
            saved.append((owner, attr, original))
            setattr(owner, attr, clock.wrap(original, label))
        client_prop = DockerEngine.__dict__["client"]
        saved.append((DockerEngine, "client", client_prop))
        connect = clock.wrap(client_prop.fget, "docker client connect (from_env + ping)")
        DockerEngine.client = property(lambda self: connect(self) if self._client is None else client_prop.fget(self))
        yield
    finally:
        for owner, attr, original in reversed(saved):
            setattr(owner, attr, original)


def _ours(train_dir: Path, out_dir: Path, log_path: Path, clock: PhaseClock | None) -> float:
    """Time TrainOnEC2Operator.execute() in this process; return seconds (phases go to the clock)."""
    from ml_lifecycle import TrainOnEC2Operator

    operator = TrainOnEC2Operator(
        task_id="train",
        image_uri=BENCH_IMAGE,
        channels={"train": f"file://{train_dir}"},
        output_path=f"file://{out_dir}",
        hyperparameters=HYPERPARAMETERS,
        compute="local",
        instance_type=INSTANCE_TYPE,
    )
    context = {
        "ti": types.SimpleNamespace(dag_id="bench", task_id="train", map_index=-1),
        "run_id": f"bench-{uuid.uuid4().hex}",
    }
    with output_to(log_path), instrumented(clock) if clock else contextlib.nullcontext():
        started = time.perf_counter()
        try:
            result = operator.execute(context)
        except Exception as err:
            raise BenchError(f"TrainOnEC2Operator.execute failed: {err}\n{tail(log_path)}") from err
        elapsed = time.perf_counter() - started
    if result.get("status") != "Completed" or not result.get("model_uri"):
        raise BenchError(f"TrainOnEC2Operator returned {result}")
    return elapsed


def _container_seconds(log_path: Path) -> float | None:
    """What the container itself reported ("training complete in X s")."""
    found = COMPLETE_RE.findall(log_path.read_text(errors="replace")) if log_path.is_file() else []
    return float(found[-1]) if found else None


# --------------------------------------------------------------------------------------------- run
def _case(case: dict[str, Any], runs: int, work: Path, say: Callable[[str], None]) -> dict[str, Any]:
    data = ensure_data(case["rows"])
    train_dir = data / "train"
    name = case["case"]
    logs = fresh_dir(LOGS / NAME / name)
    clock = PhaseClock()
    ours: list[float] = []
    base: list[float] = []
    ours_inside: list[float] = []
    base_inside: list[float] = []
    ours_outside: list[float] = []  # wall time minus what the container reported as its own work
    base_outside: list[float] = []
    phases: list[dict[str, float]] = []
    say(f"  {name}: warm-up")
    _ours(train_dir, work / name / "ours-out", logs / "warmup-ours.log", None)
    _docker_run(train_dir, work / name / "docker-warmup", logs / "warmup-docker.log")
    for i in range(1, runs + 1):
        clock.reset()
        log_ours = logs / f"run{i}-ours.log"
        seconds = _ours(train_dir, work / name / "ours-out", log_ours, clock)
        ours.append(seconds)
        accounted = sum(clock.totals.values())
        phases.append({**clock.totals, OTHER: seconds - accounted})
        log_base = logs / f"run{i}-docker.log"
        base.append(_docker_run(train_dir, work / name / f"docker-{i}", log_base))
        for target, outside, path, wall in (
            (ours_inside, ours_outside, log_ours, ours[-1]),
            (base_inside, base_outside, log_base, base[-1]),
        ):
            inside = _container_seconds(path)
            if inside is not None:
                target.append(inside)
                outside.append(wall - inside)
        say(f"  {name}: run {i}/{runs}: ours {ours[-1]:.3f} s, docker run {base[-1]:.3f} s")
    labels = list(dict.fromkeys(label for p in phases for label in p))
    out: dict[str, Any] = {
        **case,
        "ours": summary(ours),
        "docker_run": summary(base),
        **ratio_of(summary(ours), summary(base)),
        "ours_container_reported": summary(ours_inside) if ours_inside else None,
        "docker_run_container_reported": summary(base_inside) if base_inside else None,
        "ours_outside_container": summary(ours_outside) if ours_outside else None,
        "docker_run_outside_container": summary(base_outside) if base_outside else None,
        "phases_median": {label: statistics.median(p.get(label, 0.0) for p in phases) for label in labels},
        "logs": str(logs.relative_to(RESULTS)),
    }
    out["overhead_median_s"] = out["ours"]["median"] - out["docker_run"]["median"]
    return out


def run(runs: int | None, say: Callable[[str], None]) -> dict[str, Any]:
    """Run both cases; return the results."""
    runs = runs or DEFAULT_RUNS
    require_engine()
    say(f"  building {BENCH_IMAGE} from examples/containers/linear (cached layers)")
    image_id = ensure_bench_image()
    work = fresh_dir(RESULTS / "work" / NAME)
    cases = []
    # Our side's job folders and state stay under bench/results/work, away from .demo (the demo benchmark
    # deletes that) and from other users of it.
    with env_vars(ML_LIFECYCLE_HOME=str(work / "home"), ML_LIFECYCLE_WORK_DIR=str(work / "home" / "work")):
        for case in CASES:
            say(f"  {case['case']}: generating/reusing {case['rows']} rows")
            cases.append(_case(case, runs, work, say))
    shutil.rmtree(work, ignore_errors=True)
    return {
        "image": BENCH_IMAGE,
        "image_id": image_id,
        "hyperparameters": HYPERPARAMETERS,
        "runs_per_side": runs,
        "cases": cases,
    }
