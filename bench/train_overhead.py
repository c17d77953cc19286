"""TrainOnEC2Operator(compute="local").execute() against a plain ``docker run <image> train`` on the same data.

Both sides run the example linear image on the same mounted training folder, alternated in one loop (ours, docker
run, ours, docker run, ...) after one warm-up each. The baseline's /opt/ml layout is built by hand before the clock
starts and the clock runs from the ``docker run --rm`` command's start to its exit. Our side is timed around
``execute()`` in this process and includes everything it does: reading earlier records, the preflight (image,
channels), starting the job's agent, staging, the config files, container create/start, log streaming and metric
scanning, packing and uploading model.tar.gz/output.tar.gz, the job record and the cleanup. A fresh run_id per run
means nothing is reused.

Our side's steps are timed by wrapping ml_lifecycle's functions (microseconds per run; wrappers whose target is
missing are skipped, so internal changes do not break the benchmark). Each step's time excludes the steps it calls.
When the operator runs the job in a forked agent, the agent's copy of the clock reports its steps ("agent: ...").
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import os
import re
import resource
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
OTHER = "everything else (spec, stores, operator glue)"


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


def _cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _docker_run(train_dir: Path, root: Path, log_path: Path) -> tuple[float, float]:
    """Time ``docker run --rm`` of the image's ``train`` on a hand-built layout; return (seconds, CLI CPU seconds)."""
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
        cpu = _cpu_seconds(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False).returncode
        elapsed = time.perf_counter() - started
        cpu = _cpu_seconds(resource.RUSAGE_CHILDREN) - cpu
    if code != 0 or not (root / "model" / "model.json").is_file():
        raise BenchError(f"docker run ... {BENCH_IMAGE} train failed ({code}):\n{tail(log_path)}")
    return elapsed, cpu


# ------------------------------------------------------------------------------------------ our side
FOLLOW = "follow the agent until it exits"
# Steps wrapped in the operator's process (module, attribute path, label). Targets that do not exist in the
# installed ml_lifecycle are skipped, so the benchmark keeps running while the operator's internals change.
TASK_STEPS = (
    ("ml_lifecycle.compute.lifecycle", "choose_attempt", "read earlier job records (choose_attempt)"),
    ("ml_lifecycle.compute.local.training.jobs", "LocalTrainingJobs.prepare", "preflight: image lookup"),
    ("ml_lifecycle.compute.local.training.jobs", "list_channels", "preflight: list channels"),
    ("ml_lifecycle.compute.local.detached_jobs", "launch_detached", "fork the detached agent"),
    ("ml_lifecycle.compute.local.detached_jobs", "follow", FOLLOW),
    ("ml_lifecycle.compute.lifecycle", "finish", "read the final record, clean up (finish)"),
)
# Steps of the job itself (in the detached agent when the operator forks one, else in this process).
JOB_STEPS = (
    ("ml_lifecycle.compute.records", "RecordWriter.transition", "write status.json at each transition"),
    ("ml_lifecycle.compute.local.engine.docker_engine", "DockerEngine.ensure_image", "image lookup (ensure_image)"),
    ("ml_lifecycle.compute.local.training.runner", "stage_channels", "stage channels"),
    ("ml_lifecycle.compute.local.training.runner", "list_channels", "list channels"),
    ("ml_lifecycle.compute.local.engine.docker_engine", "DockerEngine.run", "container create + start (engine.run)"),
    (
        "ml_lifecycle.compute.local.training.host_watch",
        "HostWatcher.watch",
        "container runs, log streamed, wait for exit",
    ),
    (
        "ml_lifecycle.compute.local.training.runner",
        "TrainingRunner._export",
        "pack + upload model.tar.gz and output.tar.gz",
    ),
    (
        "ml_lifecycle.compute.local.training.runner",
        "TrainingRunner._clean_up",
        "cleanup (remove container, work folder)",
    ),
)
RUNNER = (
    "ml_lifecycle.compute.local.training.runner",
    "TrainingRunner.run",
    "runner glue (record, config files, metrics)",
)
CONNECT = "docker client connect (from_env + ping)"
AGENT = "agent: "


class PhaseClock:
    """Accumulates the exclusive time of wrapped calls made on the main thread, per label.

    When the operator forks a detached agent, the agent's copy of the clock writes what it measured inside
    TrainingRunner.run to ``dump_dir/agent-<pid>.json`` and the task side merges it (prefixed "agent: ").
    """

    def __init__(self, dump_dir: Path) -> None:
        self.dump_dir = dump_dir
        self.pid = os.getpid()
        self.totals: dict[str, float] = defaultdict(float)
        self.spans: dict[str, tuple[float, float]] = {}
        self.skipped: list[str] = []
        self._local = threading.local()
        self._main = threading.main_thread()

    def reset(self) -> None:
        self.totals = defaultdict(float)
        self.spans = {}
        for stale in self.dump_dir.glob("agent-*.json"):
            stale.unlink()

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
                ended = time.perf_counter()
                elapsed = ended - started
                stack.pop()
                clock.totals[label] += elapsed - frame[0]
                clock.spans[label] = (started, ended)
                if stack:
                    stack[-1][0] += elapsed

        return timed

    def dumping(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap the job runner so that, in a forked agent, it writes what it measured before the agent exits."""
        clock = self

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            before = dict(clock.totals)
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                if os.getpid() != clock.pid:
                    phases = {k: v - before.get(k, 0.0) for k, v in clock.totals.items()}
                    doc = {"start": started, "end": time.perf_counter(), "phases": phases}
                    (clock.dump_dir / f"agent-{os.getpid()}.json").write_text(json.dumps(doc))

        return run

    def breakdown(self, total: float) -> dict[str, float]:
        """Exclusive seconds per step of one run of ``total`` seconds; the steps add up to the total."""
        steps = dict(self.totals)
        for path in sorted(self.dump_dir.glob("agent-*.json")):
            agent = json.loads(path.read_text())
            steps.update({AGENT + k: v for k, v in agent["phases"].items() if v > 0})
            if FOLLOW in self.spans:
                follow_start, follow_end = self.spans[FOLLOW]
                steps.pop(FOLLOW, None)
                steps[AGENT + "process start (fork -> TrainingRunner.run)"] = agent["start"] - follow_start
                steps["agent exit noticed by follow (polling)"] = follow_end - agent["end"]
        steps[OTHER] = total - sum(steps.values())
        return steps


def _resolve(module: str, path: str) -> tuple[Any, str, Any] | None:
    """Return (owner, attribute, the owner's own value) for module + dotted path, or None when missing."""
    try:
        owner: Any = importlib.import_module(module)
    except ImportError:
        return None
    *parents, attr = path.split(".")
    for name in parents:
        owner = getattr(owner, name, None)
        if owner is None:
            return None
    value = owner.__dict__.get(attr) if isinstance(owner, type) else getattr(owner, attr, None)
    return None if value is None else (owner, attr, value)


@contextlib.contextmanager
def instrumented(clock: PhaseClock) -> Iterator[None]:
    """Wrap the steps of a training run with the clock; restore everything afterwards."""
    saved: list[tuple[Any, str, Any]] = []
    try:
        for module, path, label in (*TASK_STEPS, *JOB_STEPS, RUNNER):
            found = _resolve(module, path)
            if found is None:
                if f"{module}.{path}" not in clock.skipped:
                    clock.skipped.append(f"{module}.{path}")
                continue
            owner, attr, original = found
            saved.append((owner, attr, original))
            wrapped = clock.wrap(original, label)
            setattr(owner, attr, clock.dumping(wrapped) if (module, path) == RUNNER[:2] else wrapped)
        found = _resolve("ml_lifecycle.compute.local.engine.docker_engine", "DockerEngine.client")
        if found is not None and isinstance(found[2], property):
            owner, attr, prop = found
            saved.append((owner, attr, prop))
            connect = clock.wrap(prop.fget, CONNECT)
            owner.client = property(lambda self: connect(self) if self._client is None else prop.fget(self))
        yield
    finally:
        for owner, attr, original in reversed(saved):
            setattr(owner, attr, original)


def _ours(train_dir: Path, out_dir: Path, log_path: Path, clock: PhaseClock | None) -> tuple[float, float]:
    """Time TrainOnEC2Operator.execute() in this process; return (seconds, CPU seconds of this process).

    The steps' times go to the clock.
    """
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
        cpu = _cpu_seconds(resource.RUSAGE_SELF)
        started = time.perf_counter()
        try:
            result = operator.execute(context)
        except Exception as err:
            raise BenchError(f"TrainOnEC2Operator.execute failed: {err}\n{tail(log_path)}") from err
        elapsed = time.perf_counter() - started
        cpu = _cpu_seconds(resource.RUSAGE_SELF) - cpu
    if result.get("status") != "Completed" or not result.get("model_uri"):
        raise BenchError(f"TrainOnEC2Operator returned {result}")
    return elapsed, cpu


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
    clock = PhaseClock(fresh_dir(work / name / "phases"))
    ours: list[float] = []
    base: list[float] = []
    ours_inside: list[float] = []
    base_inside: list[float] = []
    ours_cpu: list[float] = []  # CPU of this process (all threads) during execute()
    base_cpu: list[float] = []  # CPU of the docker CLI process
    ours_outside: list[float] = []  # wall time minus what the container reported as its own work
    base_outside: list[float] = []
    phases: list[dict[str, float]] = []
    say(f"  {name}: warm-up")
    _ours(train_dir, work / name / "ours-out", logs / "warmup-ours.log", None)
    _docker_run(train_dir, work / name / "docker-warmup", logs / "warmup-docker.log")
    for i in range(1, runs + 1):
        clock.reset()
        log_ours = logs / f"run{i}-ours.log"
        seconds, cpu = _ours(train_dir, work / name / "ours-out", log_ours, clock)
        ours.append(seconds)
        ours_cpu.append(cpu)
        phases.append(clock.breakdown(seconds))
        log_base = logs / f"run{i}-docker.log"
        seconds, cpu = _docker_run(train_dir, work / name / f"docker-{i}", log_base)
        base.append(seconds)
        base_cpu.append(cpu)
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
        "instrumentation_skipped": clock.skipped,
    }
    out["overhead_median_s"] = out["ours"]["median"] - out["docker_run"]["median"]
    out["ours_cpu"] = summary(ours_cpu)
    out["docker_run_cli_cpu"] = summary(base_cpu)
    if ours_outside and base_outside:
        # Less sensitive to other load on the machine: the container's work (pooled over both sides) plus each
        # side's median time outside it.
        work_s = statistics.median(ours_inside + base_inside)
        out["container_work_pooled_median_s"] = work_s
        out["ratio_outside_container"] = (work_s + statistics.median(ours_outside)) / (
            work_s + statistics.median(base_outside)
        )
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
