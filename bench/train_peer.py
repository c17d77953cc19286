"""Training three ways on the same image and data: TrainOnEC2Operator (local), ``docker run``, SageMaker local mode.

The image is the example linear image and the data the generated CSV sets that bench/train_overhead.py uses; its
two sides are reused as they are (ours: ``TrainOnEC2Operator(compute="local").execute()`` in this process, from
nothing to model.tar.gz and output.tar.gz written and cleaned up; baseline: ``docker run --rm ... train`` on a
hand-built /opt/ml layout). The peer is the SageMaker Python SDK v2 in bench/.peer-venv as users write it: an
``Estimator(image_uri=..., instance_type="local")`` with a dummy role and a region, ``fit({"train": "file://..."})``
with a ``file://`` output path, timed in its python from the Estimator's construction to fit's return (its own
process start and SDK import are reported apart). The three sides alternate after one warm-up each, and every
side's model.json must hold the same weights.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import (
    BENCH_IMAGE,
    LOGS,
    RESULTS,
    BenchError,
    docker,
    ensure_bench_image,
    ensure_data,
    env_vars,
    fresh_dir,
    ratio_of,
    require_engine,
    summary,
    tail,
)
from bench.train_overhead import HYPERPARAMETERS, _container_seconds, _docker_run, _ours
from bench.transform import PEER_PYTHON

NAME = "train_peer"
TITLE = "Training: TrainOnEC2Operator (local) vs docker run vs SageMaker SDK local mode, same image and data"
DEFAULT_RUNS = 3
CASES = (
    {"case": "100k", "rows": 100_000, "label": "100,000 rows x 8 features (the reference's job)"},
    {"case": "1m", "rows": 1_000_000, "label": "1,000,000 rows x 8 features (~5 s job)"},
)
SIDES = ("ours", "docker_run", "peer")
LOG_SUFFIX = {"ours": "ours", "docker_run": "docker", "peer": "peer"}
REFERENCE_PEER_RATIO = 1.62  # local mode / docker run, 100k rows (shared/reference/peer-sagemaker-local-mode.md)

# The peer as users write it. container_root keeps its working folders (which it leaves behind) under ours.
PEER_FIT = r"""
import json, os, sys, time
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
image, train_dir, out_dir, root, hyperparameters = sys.argv[1:6]
from sagemaker.estimator import Estimator
from sagemaker.local import LocalSession
session = LocalSession()
session.config = {"local": {"local_code": True, "container_root": root}}
started = time.perf_counter()
estimator = Estimator(image_uri=image, role="arn:aws:iam::111111111111:role/bench", instance_count=1,
                      instance_type="local", hyperparameters=json.loads(hyperparameters),
                      output_path="file://" + out_dir, sagemaker_session=session)
estimator.fit({"train": "file://" + train_dir})
print(json.dumps({"seconds": time.perf_counter() - started, "model_data": estimator.model_data}))
"""


def _weights(model_json: bytes) -> tuple[list[float], float]:
    """The fitted weights and intercept of a model.json.

    :param model_json: the file's bytes.
    """
    model = json.loads(model_json)
    return model["weights"], model["intercept"]


def _from_archive(path: Path) -> bytes:
    """model.json out of a model.tar.gz.

    :param path: the archive.
    """
    with tarfile.open(path, "r:gz") as tar:
        member = next(m for m in tar.getmembers() if m.name.removeprefix("./") == "model.json")
        reader = tar.extractfile(member)
        return reader.read() if reader else b""


def _peer(train_dir: Path, work: Path, log_path: Path) -> tuple[float, float, bytes]:
    """Run one local-mode fit; return (fit seconds, process seconds, model.json), removing what it leaves behind.

    :param train_dir: the train channel's folder.
    :param work: this case's folder (the peer's output and working folders go below it).
    :param log_path: where its output goes.
    """
    root, out = fresh_dir(work / "peer-root"), fresh_dir(work / "peer-out")
    args = [str(PEER_PYTHON), "-c", PEER_FIT, BENCH_IMAGE, str(train_dir), str(out), str(root)]
    started = time.perf_counter()
    with log_path.open("ab") as log:
        done = subprocess.run([*args, json.dumps(HYPERPARAMETERS)], stdout=subprocess.PIPE, stderr=log, timeout=900)
        process_s = time.perf_counter() - started
        log.write(done.stdout)
    try:
        if done.returncode != 0:
            raise BenchError(f"SageMaker local mode fit failed ({done.returncode}):\n{tail(log_path)}")
        result = json.loads(done.stdout.decode(errors="replace").strip().splitlines()[-1])
        model = _from_archive(Path(result["model_data"].removeprefix("file://")))
    finally:
        # Local mode leaves an exited container per fit (compose project = its working folder's name).
        for project in (p.name for p in root.iterdir() if p.is_dir()):
            ids = docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={project}").stdout.split()
            if ids:
                docker("rm", "-f", *ids, check=False)
        shutil.rmtree(root, ignore_errors=True)
    return result["seconds"], process_s, model


def _ours_model(out_dir: Path) -> bytes:
    """model.json of the newest model.tar.gz our side wrote below out_dir.

    :param out_dir: our side's output_path folder.
    """
    newest = max(out_dir.glob("*/output/model.tar.gz"), key=lambda p: p.stat().st_mtime)
    return _from_archive(newest)


def _same(label: str, reference: bytes, other: bytes) -> None:
    """Raise a BenchError unless two model.json hold the same weights (to 1e-9, relative).

    :param label: the side being checked.
    :param reference: docker run's model.json.
    :param other: the side's model.json.
    """
    (w0, b0), (w1, b1) = _weights(reference), _weights(other)
    pairs = [*zip(w0, w1, strict=True), (b0, b1)]
    if any(abs(a - b) > 1e-9 * max(1.0, abs(a)) for a, b in pairs):
        raise BenchError(f"{label}: model.json differs from docker run's: {w1} + {b1} vs {w0} + {b0}")


def _case(case: dict[str, Any], runs: int, work: Path, say: Callable[[str], None]) -> dict[str, Any]:
    """Alternate the three sides runs + 1 times (the first is a warm-up); return their timings and ratios.

    :param case: rows and labels.
    :param runs: timed runs per side.
    :param work: the benchmark's folder.
    :param say: progress output.
    """
    train_dir = ensure_data(case["rows"]) / "train"
    logs = fresh_dir(LOGS / NAME / case["case"])
    work = fresh_dir(work / case["case"])
    times: dict[str, list[float]] = {side: [] for side in (*SIDES, "peer_process")}
    inside: dict[str, list[float]] = {side: [] for side in SIDES}
    for index in range(runs + 1):
        tag = f"run{index}" if index else "warmup"
        ours_s, _cpu = _ours(train_dir, work / "ours-out", logs / f"{tag}-ours.log", None)
        base_s, _cpu = _docker_run(train_dir, fresh_dir(work / "docker") / "ml", logs / f"{tag}-docker.log")
        reference = (work / "docker" / "ml" / "model" / "model.json").read_bytes()
        _same("TrainOnEC2Operator", reference, _ours_model(work / "ours-out"))
        peer_s, process_s, model = _peer(train_dir, work, logs / f"{tag}-peer.log")
        _same("SageMaker local mode", reference, model)
        if index:
            for key, value in zip(times, (ours_s, base_s, peer_s, process_s), strict=True):
                times[key].append(value)
            for side in SIDES:
                reported = _container_seconds(logs / f"{tag}-{LOG_SUFFIX[side]}.log")
                if reported is None:
                    raise BenchError(f"{side}: the container did not report its training time ({tag})")
                inside[side].append(reported)
        say(f"  {case['case']} {tag}: ours {ours_s:.2f} s, docker run {base_s:.2f} s, local mode {peer_s:.2f} s")
    stats = {key: summary(values) for key, values in times.items()}
    # Less sensitive to other load: the container's work pooled over the three sides plus each side's time outside it.
    pooled = statistics.median([v for values in inside.values() for v in values])
    outside = {side: summary([w - i for w, i in zip(times[side], inside[side], strict=True)]) for side in SIDES}
    estimate = {side: pooled + outside[side]["median"] for side in SIDES}
    return {
        **case,
        **stats,
        "container_reported": {side: summary(inside[side]) for side in SIDES},
        "outside_container": outside,
        "container_work_pooled_median_s": pooled,
        "ours_vs_docker_run": ratio_of(stats["ours"], stats["docker_run"]),
        "peer_vs_docker_run": ratio_of(stats["peer"], stats["docker_run"]),
        "ours_vs_peer": ratio_of(stats["ours"], stats["peer"]),
        "outside_estimate": {
            "ours_vs_docker_run": estimate["ours"] / estimate["docker_run"],
            "peer_vs_docker_run": estimate["peer"] / estimate["docker_run"],
            "ours_vs_peer": estimate["ours"] / estimate["peer"],
        },
        "logs": str(logs.relative_to(RESULTS)),
    }


def _figures(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of the report's figures table: ours against docker run and against local mode, per case.

    :param cases: the cases' results.
    """
    rows = []
    for c in cases:
        peer = c["peer_vs_docker_run"]["ratio"]
        for against, stats, label in (("docker_run", c["docker_run"], "`docker run`"), ("peer", c["peer"], "")):
            rows.append(
                {
                    "label": f"training, {c['rows']:,} rows: TrainOnEC2Operator (local) vs "
                    + (
                        "docker run"
                        if against == "docker_run"
                        else f"SDK local mode (local mode = {peer:.2f}x docker run)"
                    ),
                    "ours_s": c["ours"]["median"],
                    "baseline_s": stats["median"],
                    "baseline": label or "SageMaker SDK local mode",
                    "ratio": c["ours"]["median"] / stats["median"],
                    "goal": None,
                }
            )
    return rows


def run(runs: int | None, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Build the image, then run every case; return the results.

    :param runs: timed runs per side (default 3).
    :param say: progress output.
    """
    runs = runs or DEFAULT_RUNS
    if not PEER_PYTHON.is_file():
        raise BenchError(
            f"no {PEER_PYTHON}: python3 -m venv bench/.peer-venv && bench/.peer-venv/bin/pip install 'sagemaker<3'"
        )
    if shutil.which("docker-compose") is None and docker("compose", "version", check=False).returncode != 0:
        raise BenchError("SageMaker local mode needs Docker Compose: apt-get install docker-compose")
    require_engine()
    image_id = ensure_bench_image()
    work = fresh_dir(RESULTS / "work" / NAME)
    with env_vars(ML_LIFECYCLE_HOME=str(work / "home"), ML_LIFECYCLE_WORK_DIR=str(work / "home" / "work")):
        cases = [_case(case, runs, work, say) for case in CASES]
    shutil.rmtree(work, ignore_errors=True)
    version = (
        subprocess.run(
            [str(PEER_PYTHON), "-c", "import sagemaker; print(sagemaker.__version__)"], capture_output=True, text=True
        )
        .stdout.strip()
        .splitlines()[-1:]
    )
    return {
        "image": BENCH_IMAGE,
        "image_id": image_id,
        "hyperparameters": HYPERPARAMETERS,
        "peer": f"SageMaker Python SDK {''.join(version)} local mode (Estimator, instance_type='local')",
        "reference_peer_vs_docker_run": REFERENCE_PEER_RATIO,
        "runs_per_side": runs,
        "cases": cases,
        "figures": _figures(cases),
    }


def report_lines(doc: dict[str, Any], charts: dict[str, str]) -> list[str]:
    """This benchmark's section of REPORT.md.

    :param doc: the benchmark's JSON document.
    :param charts: chart paths by name (none drawn for this benchmark).
    """
    from bench.report import s, section_head, spread

    r = doc["result"]
    names = {
        "ours": "TrainOnEC2Operator.execute",
        "docker_run": "docker run",
        "peer": "SDK local mode, Estimator + fit",
    }
    lines = section_head(doc, __doc__)
    lines += [f"Peer: {r['peer']}. {r['runs_per_side']} timed runs per side.", ""]
    for c in r["cases"]:
        lines += [
            f"### {c['label']}",
            "",
            "| side | runs | median | min - max | container's own work (median) | outside it (median) |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for side in SIDES:
            st = c[side]
            lines.append(
                f"| {names[side]} | {st['runs']} | {s(st['median'])} | {spread(st)} | "
                f"{s(c.get('container_reported', {}).get(side, {}).get('median'))} | "
                f"{s(c.get('outside_container', {}).get(side, {}).get('median'))} |"
            )
        pp = c["peer_process"]
        lines.append(
            f"| local mode's whole python (start, SDK import, fit) | {pp['runs']} | {s(pp['median'])} | {spread(pp)} | | |"
        )
        est = c.get("outside_estimate", {})
        lines += [""]
        for key, label in (
            ("ours_vs_docker_run", "ours / docker run"),
            ("peer_vs_docker_run", "local mode / docker run"),
            ("ours_vs_peer", "ours / local mode"),
        ):
            q = c[key]
            lines.append(
                f"- {label}: **{q['ratio']:.3f}** (per-run ratios {q['pair_ratio_min']:.3f} - {q['pair_ratio_max']:.3f}"
                + (f"; pooled container work + time outside it: {est[key]:.3f}" if key in est else "")
                + ")"
            )
        if c["rows"] == 100_000:
            lines.append(f"- the reference measured local mode at {r['reference_peer_vs_docker_run']}x docker run here")
        lines += ["", f"Logs of every run: bench/results/{c['logs']}/", ""]
    return lines
