"""BuildImage of an unchanged context vs a warm-cache ``docker build``; PushToECR of a 500 MB image vs ``docker push``.

Build: the example linear context, built once by each side before the clock starts. Then, alternated, our side
times ``BuildImageOperator.execute()`` in this process (hash the context, find the ``ctx-<hash>`` image on the
engine, no build) and the baseline times ``docker build -q`` of the same context, whose every step is cached.

Push: one image with a 500 MB layer of random bytes (incompressible, so gzip and upload cost what they do). Each
push, ours (``PushToECROperator(registry=...)``: lookup, push, digest confirmation) or ``docker push``, goes to a
registry of its own started for it (Debian's docker-registry on a new port and an empty folder), so every push
uploads every byte; starting that registry is outside the clock. Sides alternate after one warm-up each.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.common import (
    EXAMPLE_CONTEXT,
    LOGS,
    RESULTS,
    BenchError,
    docker,
    fresh_dir,
    output_to,
    ratio_of,
    require_engine,
    summary,
    tail,
)

NAME = "build_push"
TITLE = "Images: BuildImage of an unchanged context vs docker build; PushToECR of 500 MB vs docker push"
DEFAULT_RUNS = 5
BUILD_GOAL = 0.2
PUSH_GOAL = 1.05
PUSH_MB = 500
BUILD_REPOSITORY = "ml-lifecycle-bench/build"
BASELINE_TAG = "ml-lifecycle-bench/build:docker"
PUSH_IMAGE = f"ml-lifecycle-bench/push:{PUSH_MB}mb"
REGISTRY_START_S = 30.0


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def fresh_registry(folder: Path) -> Iterator[str]:
    """Run an empty distribution registry on a new loopback port for the block; yield its host.

    :param folder: an empty folder for its data (removed afterwards).
    """
    program = shutil.which("docker-registry")
    if program is None:
        raise BenchError("docker-registry is missing: run `bash scripts/bootstrap.sh registry` (it installs it)")
    port = _free_port()
    fresh_dir(folder)
    config = folder / "config.yml"
    config.write_text(
        f'{{"version": 0.1, "log": {{"level": "error"}}, "http": {{"addr": "127.0.0.1:{port}"}}, '
        f'"storage": {{"filesystem": {{"rootdirectory": "{folder / "data"}"}}}}}}'
    )
    with (folder / "registry.log").open("ab") as log:
        process = subprocess.Popen([program, "serve", str(config)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + REGISTRY_START_S
        while subprocess.run(["curl", "-sf", "-o", "/dev/null", f"http://127.0.0.1:{port}/v2/"]).returncode != 0:
            if process.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"the bench registry did not start:\n{tail(folder / 'registry.log')}")
            time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


# ------------------------------------------------------------------------------------------------ build
def _ours_build(context: Path, log_path: Path) -> float:
    """Time BuildImageOperator.execute() on an unchanged context; it must not build."""
    from ml_lifecycle import BuildImageOperator

    operator = BuildImageOperator(task_id="build", context_path=str(context), repository=BUILD_REPOSITORY)
    with output_to(log_path):
        started = time.perf_counter()
        result = operator.execute({"ti": None, "run_id": "bench"})
        elapsed = time.perf_counter() - started
    if result["built"]:
        raise BenchError(f"BuildImage built an unchanged context; see {log_path}")
    return elapsed


def _docker_build(context: Path, log_path: Path) -> float:
    """Time ``docker build -q`` of the same context (every step cached)."""
    started = time.perf_counter()
    done = subprocess.run(["docker", "build", "-q", "-t", BASELINE_TAG, str(context)], capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    with log_path.open("a") as log:
        log.write(done.stdout + done.stderr)
    if done.returncode != 0:
        raise BenchError(f"docker build failed: {done.stderr.strip()[-800:]}")
    return elapsed


def _build_case(runs: int, work: Path, say: Callable[[str], None]) -> dict[str, Any]:
    context = work / "context"
    shutil.copytree(EXAMPLE_CONTEXT, context)
    logs = fresh_dir(LOGS / NAME / "build")
    say("  build: warm-up (each side builds the context once)")
    with output_to(logs / "warmup-ours.log"):
        from ml_lifecycle import BuildImageOperator

        BuildImageOperator(task_id="build", context_path=str(context), repository=BUILD_REPOSITORY).execute(
            {"ti": None, "run_id": "bench"}
        )
    _docker_build(context, logs / "warmup-docker.log")
    ours, baseline = [], []
    for number in range(1, runs + 1):
        ours.append(_ours_build(context, logs / f"run{number}-ours.log"))
        baseline.append(_docker_build(context, logs / f"run{number}-docker.log"))
        say(f"  build run {number}: BuildImage {ours[-1]:.3f} s, docker build {baseline[-1]:.3f} s")
    stats = {"ours": summary(ours), "docker_build": summary(baseline)}
    return {"case": "build_unchanged", "goal": BUILD_GOAL, **stats, **ratio_of(stats["ours"], stats["docker_build"])}


# ------------------------------------------------------------------------------------------------- push
def _ensure_push_image(say: Callable[[str], None]) -> str:
    """Build (once) an image with a PUSH_MB MB layer of random bytes; return its id."""
    if docker("image", "inspect", PUSH_IMAGE, check=False).returncode != 0:
        say(f"  push: building {PUSH_IMAGE} ({PUSH_MB} MB of random bytes)")
        dockerfile = f"FROM python:3.11-slim\nRUN head -c {PUSH_MB * 10**6} /dev/urandom > /blob\n"
        done = subprocess.run(["docker", "build", "-q", "-t", PUSH_IMAGE, "-"], input=dockerfile, text=True,
                              capture_output=True)  # fmt: skip
        if done.returncode != 0:
            raise BenchError(f"building {PUSH_IMAGE} failed: {done.stderr.strip()[-800:]}")
    return docker("image", "inspect", "--format", "{{.Id}}", PUSH_IMAGE).stdout.strip()


def _ours_push(folder: Path, log_path: Path) -> float:
    """Time PushToECROperator.execute() to an empty registry."""
    from ml_lifecycle import PushToECROperator

    with fresh_registry(folder) as host:
        operator = PushToECROperator(task_id="push", image=PUSH_IMAGE, repository="bench/push", registry=host)
        with output_to(log_path):
            started = time.perf_counter()
            result = operator.execute({"ti": None, "run_id": "bench"})
            elapsed = time.perf_counter() - started
    if not result["pushed"]:
        raise BenchError(f"PushToECR sent nothing to an empty registry; see {log_path}")
    return elapsed


def _docker_push(folder: Path, log_path: Path) -> float:
    """Time ``docker push`` to an empty registry."""
    with fresh_registry(folder) as host:
        target = f"{host}/bench/push:{PUSH_MB}mb"
        docker("tag", PUSH_IMAGE, target)
        started = time.perf_counter()
        done = subprocess.run(["docker", "push", target], capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        docker("rmi", target, check=False)
    with log_path.open("a") as log:
        log.write(done.stdout + done.stderr)
    if done.returncode != 0:
        raise BenchError(f"docker push failed: {done.stderr.strip()[-800:]}")
    return elapsed


def _push_case(runs: int, work: Path, say: Callable[[str], None]) -> dict[str, Any]:
    image_id = _ensure_push_image(say)
    logs = fresh_dir(LOGS / NAME / "push")
    say("  push: warm-up (one push each)")
    _ours_push(work / "registry", logs / "warmup-ours.log")
    _docker_push(work / "registry", logs / "warmup-docker.log")
    ours, baseline = [], []
    for number in range(1, runs + 1):
        ours.append(_ours_push(work / "registry", logs / f"run{number}-ours.log"))
        baseline.append(_docker_push(work / "registry", logs / f"run{number}-docker.log"))
        say(f"  push run {number}: PushToECR {ours[-1]:.2f} s, docker push {baseline[-1]:.2f} s")
    stats = {"ours": summary(ours), "docker_push": summary(baseline)}
    return {
        "case": "push_500mb", "goal": PUSH_GOAL, "image_id": image_id, "layer_mb": PUSH_MB, **stats,
        **ratio_of(stats["ours"], stats["docker_push"]),
    }  # fmt: skip


def run(runs: int | None = None, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Run both comparisons; return the timings and ratios (median ours / median baseline).

    :param runs: timed runs per side and case; default DEFAULT_RUNS.
    :param say: receives progress lines.
    """
    runs = runs or DEFAULT_RUNS
    require_engine()
    if docker("image", "inspect", "python:3.11-slim", check=False).returncode != 0:
        raise BenchError("The base image python:3.11-slim is missing; run `bash scripts/bootstrap.sh all`")
    work = fresh_dir(RESULTS / "work" / NAME / uuid.uuid4().hex[:8])
    try:
        cases = [_build_case(runs, work, say), _push_case(runs, work, say)]
    finally:
        shutil.rmtree(work.parent, ignore_errors=True)
    return {"runs_per_side": runs, "cases": cases}


# ------------------------------------------------------------------------------------------------ report
def _case_text(case: dict[str, Any]) -> tuple[str, str, str, str]:
    """What to call a case in the report: (figure label, our side, key of the baseline's timings, baseline).

    :param case: one entry of the result's ``cases``.
    """
    if case.get("case") == "build_unchanged":
        return (
            "BuildImage of an unchanged context",
            "BuildImageOperator.execute",
            "docker_build",
            ("warm-cache `docker build -q`"),
        )
    if case.get("case") == "push_500mb":
        size = case.get("layer_mb", PUSH_MB)
        return (
            f"PushToECR of a {size} MB layer to an empty registry",
            "PushToECROperator.execute",
            "docker_push",
            ("`docker push`"),
        )
    baseline = next((k for k, v in case.items() if k != "ours" and isinstance(v, dict) and "median" in v), "")
    return str(case.get("case", "?")), "ours", baseline, baseline


def summary_rows(result: dict[str, Any]) -> list[str]:
    """This benchmark's rows of the report's Figures table; each goal is a maximum of the time ratio.

    :param result: the benchmark's result (``cases``).
    """
    from bench.report import s, verdict

    rows = []
    for case in result.get("cases", []):
        label, _, key, baseline = _case_text(case)
        if "ratio" not in case or key not in case:
            continue
        rows.append(
            f"| {label} | {s(case['ours']['median'])} | {s(case[key]['median'])} ({baseline}) | "
            f"**{case['ratio']:.3f}** | {verdict(case['ratio'], case.get('goal'))} |"
        )
    return rows


def report_lines(doc: dict[str, Any], charts: dict[str, str]) -> list[str]:
    """This benchmark's section of REPORT.md.

    :param doc: the benchmark's JSON document.
    :param charts: chart paths by name (none drawn for this benchmark).
    """
    from bench.report import _row, section_head, verdict

    r = doc["result"]
    lines = section_head(doc, __doc__)
    lines += [f"{r.get('runs_per_side', '?')} timed runs per side and case. Goals are maxima of the ratio.", ""]
    for case in r.get("cases", []):
        label, ours, key, baseline = _case_text(case)
        if "ratio" not in case or key not in case:
            continue
        lines += [
            f"### {label}",
            "",
            "| side | runs | median | min - max |",
            "| --- | --- | --- | --- |",
            _row(ours, case["ours"]),
            _row(baseline, case[key]),
            "",
        ]
        pairs = (
            f" (per-pair ratios {case['pair_ratio_min']:.3f} - {case['pair_ratio_max']:.3f})"
            if "pair_ratio_min" in case
            else ""
        )
        rate = ""
        if case.get("layer_mb"):
            rate = (
                f" Throughput at the medians: {case['layer_mb'] / case['ours']['median']:.1f} MB/s ours, "
                f"{case['layer_mb'] / case[key]['median']:.1f} MB/s {baseline}."
            )
        medians = case["ours"]["median"], case[key]["median"]
        exact = f" ({medians[0] * 1000:.1f} ms vs {medians[1] * 1000:.1f} ms)" if max(medians) < 0.1 else ""
        lines += [
            f"**Ratio of medians ours / {baseline}: {case['ratio']:.3f}**{pairs}; difference "
            f"{(medians[0] - medians[1]) * 1000:+.0f} ms{exact}. Goal {verdict(case['ratio'], case.get('goal'))}.{rate}",
            "",
        ]
        if case.get("case") in ("build_unchanged", "push_500mb"):
            folder = "build" if case["case"] == "build_unchanged" else "push"
            lines += [f"Logs of every run: bench/results/logs/{NAME}/{folder}/", ""]
    return lines
