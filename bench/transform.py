"""BatchTransformOperator(compute="local").execute() against the same serving container driven by a plain client.

Both sides serve the example linear image with the same model over the same 200,000 CSV rows, alternated in one
loop after one warm-up each, and both clocks run from nothing to everything cleaned up:

- ours: ``execute()`` (image lookup, model unpacking, container start, GET /ping, /execution-parameters, streaming
  the file through MultiRecord or SingleRecord requests, writing ``score.csv.out``, the job record, removal);
- direct: ``docker run -d`` of ``serve`` with the model folder mounted, /ping polled every 10 ms, the whole file read
  into memory and cut at newlines (MultiRecord) or per line (SingleRecord), POSTed by a thread pool with one
  keep-alive connection per thread, the answers written in order, then ``docker rm -f``.

Both sides use the same concurrency and payload size; the outputs are compared byte for byte. A third case runs
the transform over a 2 GiB input in a child process whose address space is capped at 300 MB (RLIMIT_AS) and
reports its peak RSS. The peer, the SageMaker Python SDK's local mode, runs when bench/.peer-venv holds it.
"""

from __future__ import annotations

import http.client
import json
import shutil
import statistics
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bench.common import (
    BENCH_DIR,
    BENCH_IMAGE,
    GENERATE,
    RESULTS,
    BenchError,
    docker,
    ensure_bench_image,
    env_vars,
    fresh_dir,
    ratio_of,
    require_engine,
    summary,
)

NAME = "transform"
TITLE = "Batch transform: BatchTransformOperator (local) vs a plain client on the same container"
DEFAULT_RUNS = 5
ROWS = 200_000
SINGLE_ROWS = 20_000  # SingleRecord sends one request per row; fewer rows keep a run near ten seconds
PAYLOAD_MB = 6
CASES = (
    {
        "case": "multi_record",
        "label": f"{ROWS:,} rows, MultiRecord {PAYLOAD_MB} MB, 2 requests in flight",
        "rows": ROWS,
        "strategy": "MultiRecord",
        "concurrency": 2,
        "goal": 0.8,
    },
    {
        "case": "single_record",
        "label": f"{SINGLE_ROWS:,} rows, SingleRecord, 4 requests in flight (4 connections)",
        "rows": SINGLE_ROWS,
        "strategy": "SingleRecord",
        "concurrency": 4,
        "goal": 0.9,
    },
)
PEER_PYTHON = BENCH_DIR / ".peer-venv" / "bin" / "python"
PEER_MAX_RUNS = 3  # about half a minute each
PEER_GOAL = 20.0  # ours at least 20x its records per second
BIG_INPUT_BYTES = 2 * 1024**3
MEMORY_LIMIT_MB = 300
PING_INTERVAL_S = 0.01
BOUNDED_RUN = r"""
import json, resource, sys, time
limit = int(sys.argv[1]) << 20
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from ml_lifecycle import settings
from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine
from ml_lifecycle.compute.local.transform.runner import TransformRunner
from ml_lifecycle.core.specs import TransformSpec
from ml_lifecycle.stores import store_for
spec = TransformSpec(**json.loads(sys.argv[2]))
started = time.perf_counter()
record = TransformRunner(DockerEngine(), store_for, settings.work_dir(), settings.serving_host()).run(spec, sys.argv[3], {}, lambda line: None)
seconds = time.perf_counter() - started
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"status": record.status, "metrics": record.metrics, "peak_rss_mb": peak_mb, "seconds": seconds}))
"""


# The peer as users write it: the SageMaker Python SDK v2's local mode, a dummy role and a region, no AWS account.
PEER_RUN = r"""
import glob, json, os, sys, time
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
image, model_tar, in_dir, out_dir = sys.argv[1:5]
from sagemaker.local import LocalSession
from sagemaker.model import Model
session = LocalSession()
session.config = {"local": {"local_code": True}}
started = time.perf_counter()
model = Model(image_uri=image, model_data="file://" + model_tar, role="arn:aws:iam::111111111111:role/bench",
              sagemaker_session=session)
transformer = model.transformer(instance_count=1, instance_type="local", strategy="MultiRecord", max_payload=6,
                                assemble_with="Line", accept="text/csv", output_path="file://" + out_dir)
transformer.transform("file://" + in_dir, content_type="text/csv", split_type="Line", wait=True, logs=False)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "outputs": glob.glob(out_dir + "/**/*.out", recursive=True)}))
"""


# ------------------------------------------------------------------------------------------ data and model
def _data(rows: int) -> tuple[Path, dict[str, Any]]:
    """Generate (once; cached) ``rows`` feature rows; return score.csv and the generator's truth (weights)."""
    target = RESULTS / "data" / f"score-{rows}"
    truth_path = target / "truth.json"
    if not truth_path.is_file() or json.loads(truth_path.read_text()).get("score_rows") != rows:
        shutil.rmtree(target, ignore_errors=True)
        subprocess.run(
            [sys.executable, str(GENERATE), "--out", str(target), "--rows", "10", "--score-rows", str(rows)],
            check=True,
            capture_output=True,
        )
    return target / "score" / "score.csv", json.loads(truth_path.read_text())


def _model(work: Path, truth: dict[str, Any]) -> tuple[Path, str]:
    """Write the true linear model as a folder (for docker run) and as model.tar.gz (for ours)."""
    folder = fresh_dir(work / "model")
    model = {
        "weights": truth["weights"],
        "intercept": truth["intercept"],
        "n_features": len(truth["weights"]),
        "target_column": 0,
        "version": "bench",
    }
    (folder / "model.json").write_text(json.dumps(model))
    archive = work / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder / "model.json", arcname="model.json")
    return folder, f"file://{archive}"


def _input(work: Path, score: Path, rows: int) -> Path:
    """Make a folder holding the first ``rows`` rows of score.csv as score.csv."""
    folder = fresh_dir(work / f"in-{rows}")
    with score.open("rb") as source, (folder / "score.csv").open("wb") as out:
        for _ in range(rows):
            out.write(source.readline())
    return folder


# ------------------------------------------------------------------------------------------ direct client
def _start_direct(model_dir: Path, concurrency: int) -> tuple[str, int]:
    """``docker run -d`` the image's serve with the model mounted; return (container id, published port)."""
    cid = docker(
        "run",
        "-d",
        "-p",
        "127.0.0.1::8080",
        "-v",
        f"{model_dir}:/opt/ml/model:ro",
        "-e",
        "SAGEMAKER_BATCH=true",
        "-e",
        f"SAGEMAKER_MAX_CONCURRENT_TRANSFORMS={concurrency}",
        "--label",
        "ml-lifecycle.bench=transform",
        BENCH_IMAGE,
        "serve",
    ).stdout.strip()
    port = int(docker("port", cid, "8080/tcp").stdout.split("\n")[0].rsplit(":", 1)[1])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", "/ping")
            if conn.getresponse().status == 200:
                return cid, port
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(PING_INTERVAL_S)
    docker("rm", "-f", cid, check=False)
    raise BenchError(f"{BENCH_IMAGE} serve did not answer GET /ping within 60 s")


def _bodies(data: bytes, strategy: str) -> list[bytes]:
    """Cut a CSV file into request bodies: one per line, or as many whole lines as fit in PAYLOAD_MB."""
    if strategy == "SingleRecord":
        return data.splitlines(keepends=True)
    limit = PAYLOAD_MB * 1024 * 1024
    bodies, start = [], 0
    while start < len(data):
        end = len(data) if start + limit >= len(data) else data.rfind(b"\n", start, start + limit) + 1
        bodies.append(data[start:end])
        start = end
    return bodies


def _post_all(port: int, bodies: list[bytes], concurrency: int) -> list[bytes]:
    """POST every body to /invocations with ``concurrency`` threads, one keep-alive connection each, in order."""
    local = threading.local()
    headers = {"Content-Type": "text/csv", "Accept": "text/csv"}

    def post(body: bytes) -> bytes:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        conn.request("POST", "/invocations", body=body, headers=headers)
        response = conn.getresponse()
        answer = response.read()
        if response.status != 200:
            raise BenchError(f"direct client: HTTP {response.status}: {answer[:300]!r}")
        return answer

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(post, bodies))


def _direct(case: dict[str, Any], model_dir: Path, input_dir: Path, out: Path) -> float:
    """Time the plain client from ``docker run`` to ``docker rm -f``; return seconds."""
    started = time.perf_counter()
    cid, port = _start_direct(model_dir, case["concurrency"])
    try:
        data = (input_dir / "score.csv").read_bytes()
        answers = _post_all(port, _bodies(data, case["strategy"]), case["concurrency"])
        with out.open("wb") as f:
            for answer in answers:
                f.write(answer if answer.endswith(b"\n") else answer + b"\n")
    finally:
        docker("rm", "-f", cid, check=False)
    return time.perf_counter() - started


# ------------------------------------------------------------------------------------------ our side
def _ours(case: dict[str, Any], model_uri: str, input_dir: Path, out_dir: Path) -> float:
    """Time BatchTransformOperator.execute() end to end; return seconds."""
    from ml_lifecycle import BatchTransformOperator

    operator = BatchTransformOperator(
        task_id="transform",
        image_uri=BENCH_IMAGE,
        model_uri=model_uri,
        input_uri=f"file://{input_dir}",
        output_uri=f"file://{out_dir}",
        content_type="text/csv",
        accept="text/csv",
        batch_strategy=case["strategy"],
        max_payload_mb=PAYLOAD_MB,
        max_concurrent_transforms=case["concurrency"],
    )
    ti = SimpleNamespace(dag_id="bench", task_id="transform", map_index=-1)
    context = {"ti": ti, "run_id": f"bench__{uuid.uuid4().hex[:12]}"}
    shutil.rmtree(out_dir, ignore_errors=True)
    started = time.perf_counter()
    result = operator.execute(context)
    seconds = time.perf_counter() - started
    if result["status"] != "Completed":
        raise BenchError(f"our transform ended {result['status']}")
    return seconds


def _case(case: dict[str, Any], runs: int, work: Path, model: tuple[Path, str], say: Callable[[str], None]) -> dict:
    """Alternate both sides ``runs`` times after a warm-up each; return timings, rates and the ratio."""
    score, _ = _data(ROWS)
    input_dir = _input(work, score, case["rows"])
    name = case["case"]
    ours_out = work / f"ours-{name}"
    direct_out = work / f"direct-{name}.out"
    say(f"  {name}: warm-up")
    _ours(case, model[1], input_dir, ours_out)
    _direct(case, model[0], input_dir, direct_out)
    if (ours_out / "score.csv.out").read_bytes() != direct_out.read_bytes():
        raise BenchError(f"{name}: our output differs from the direct client's")
    ours: list[float] = []
    direct: list[float] = []
    for i in range(1, runs + 1):
        ours.append(_ours(case, model[1], input_dir, ours_out))
        direct.append(_direct(case, model[0], input_dir, direct_out))
        say(f"  {name}: run {i}/{runs}: ours {ours[-1]:.3f} s, direct {direct[-1]:.3f} s")
    rows = case["rows"]
    out: dict[str, Any] = {
        **case,
        "ours": summary(ours),
        "direct": summary(direct),
        "ours_records_per_s": rows / statistics.median(ours),
        "direct_records_per_s": rows / statistics.median(direct),
    }
    # Records per second of ours relative to direct: the inverse of the time ratio.
    timing = ratio_of(out["ours"], out["direct"])
    out["ratio_records_per_s"] = 1 / timing["ratio"]
    out["met"] = out["ratio_records_per_s"] >= case["goal"]
    return out


# ------------------------------------------------------------------------------------------ the peer
def _peer(work: Path, model_tar: Path, ours: dict[str, Any], runs: int, say: Callable[[str], None]) -> dict:
    """Time the SDK's local mode on the MultiRecord case's input, when bench/.peer-venv holds it."""
    if not PEER_PYTHON.is_file():
        return {
            "skipped": f"no {PEER_PYTHON}: python3 -m venv bench/.peer-venv && bench/.peer-venv/bin/pip install 'sagemaker<3'"
        }
    if shutil.which("docker-compose") is None and docker("compose", "version", check=False).returncode != 0:
        return {"skipped": "local mode needs Docker Compose: apt-get install docker-compose"}
    input_dir = work / f"in-{ROWS}"
    expected = [line for line in (work / "direct-multi_record.out").read_bytes().splitlines() if line]
    seconds: list[float] = []
    for i in range(1, min(runs, PEER_MAX_RUNS) + 1):
        out_dir = fresh_dir(work / "peer-out")
        done = subprocess.run(
            [str(PEER_PYTHON), "-c", PEER_RUN, BENCH_IMAGE, str(model_tar), str(input_dir), str(out_dir)],
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if done.returncode != 0:
            raise BenchError(f"the peer (SageMaker SDK local mode) failed:\n{done.stderr[-2000:]}")
        result = json.loads(done.stdout.splitlines()[-1])
        written = b"".join(Path(p).read_bytes() for p in sorted(result["outputs"]))
        # Local mode adds a newline after every response, which already ends in one: compare the rows.
        if [line for line in written.splitlines() if line] != expected:
            raise BenchError("the peer's output rows differ from the direct client's")
        seconds.append(result["seconds"])
        say(f"  peer: run {i}: {seconds[-1]:.1f} s")
    peer = summary(seconds)
    ratio = (ROWS / ours["median"]) / (ROWS / peer["median"])
    return {
        "peer": "SageMaker Python SDK local mode (v2), instance_type='local'",
        "runs": len(seconds),
        "seconds": peer,
        "records_per_s": ROWS / peer["median"],
        "ours_over_peer_records_per_s": ratio,
        "goal": PEER_GOAL,
        "met": ratio >= PEER_GOAL,
    }


# ------------------------------------------------------------------------------------------ bounded memory
def _big_input(work: Path, score: Path) -> tuple[Path, int]:
    """Repeat score.csv into a file of at least BIG_INPUT_BYTES; return its folder and row count."""
    folder = fresh_dir(work / "in-big")
    block = score.read_bytes()
    rows_per_block = block.count(b"\n")
    repeats = -(-BIG_INPUT_BYTES // len(block))
    with (folder / "score.csv").open("wb") as out:
        for _ in range(repeats):
            out.write(block)
    return folder, repeats * rows_per_block


def _memory(work: Path, model_uri: str, truth: dict[str, Any], say: Callable[[str], None]) -> dict[str, Any]:
    """Transform the 2 GiB input in a child capped at MEMORY_LIMIT_MB of address space; check the output."""
    score, _ = _data(ROWS)
    folder, rows = _big_input(work, score)
    out_dir = work / "out-big"
    spec = dict(
        image_uri=BENCH_IMAGE,
        model_uri=model_uri,
        input_uri=f"file://{folder}",
        output_uri=f"file://{out_dir}",
        content_type="text/csv",
        batch_strategy="MultiRecord",
        max_payload_mb=PAYLOAD_MB,
        max_concurrent_transforms=2,
    )
    say(f"  memory: {BIG_INPUT_BYTES / 1024**3:.0f} GiB ({rows:,} rows) under RLIMIT_AS={MEMORY_LIMIT_MB} MB")
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            BOUNDED_RUN,
            str(MEMORY_LIMIT_MB),
            json.dumps(spec),
            f"bench-big-{uuid.uuid4().hex[:8]}",
        ],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if done.returncode != 0:
        raise BenchError(f"the bounded-memory transform failed:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.splitlines()[-1])
    size = (folder / "score.csv").stat().st_size
    checked = _check_predictions(folder / "score.csv", out_dir / "score.csv.out", truth)
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(out_dir, ignore_errors=True)
    return {
        "input_bytes": size,
        "rows": rows,
        "memory_limit_mb": MEMORY_LIMIT_MB,
        "peak_rss_mb": result["peak_rss_mb"],
        "seconds": result["seconds"],
        "records_per_s": rows / result["seconds"],
        "status": result["status"],
        "output_rows_checked": checked,
    }


def _check_predictions(inputs: Path, outputs: Path, truth: dict[str, Any]) -> int:
    """Check that the output has one prediction per input row and that every 1000th one is right; return rows."""
    weights, intercept = truth["weights"], truth["intercept"]
    count = 0
    with inputs.open() as source, outputs.open() as answers:
        for row, answer in zip(source, answers, strict=True):
            count += 1
            if count % 1000 == 0:
                expected = intercept + sum(w * float(x) for w, x in zip(weights, row.split(","), strict=True))
                if abs(float(answer) - expected) > 1e-6 * max(1.0, abs(expected)):
                    raise BenchError(f"row {count}: predicted {answer.strip()}, expected {expected}")
    return count


# ------------------------------------------------------------------------------------------ entry point
def run(runs: int | None, say: Callable[[str], None]) -> dict[str, Any]:
    """Run both timed cases, the bounded-memory case and, when installed, the peer; return the results."""
    runs = runs or DEFAULT_RUNS
    require_engine()
    say(f"  building {BENCH_IMAGE} from examples/containers/linear (cached layers)")
    image_id = ensure_bench_image()
    work = fresh_dir(RESULTS / "work" / NAME)
    _, truth = _data(ROWS)
    model = _model(work, truth)
    with env_vars(ML_LIFECYCLE_HOME=str(work / "home"), ML_LIFECYCLE_WORK_DIR=str(work / "home" / "work")):
        cases = [_case(case, runs, work, model, say) for case in CASES]
        peer = _peer(work, work / "model.tar.gz", cases[0]["ours"], runs, say)
        memory = _memory(work, model[1], truth, say)
    shutil.rmtree(work, ignore_errors=True)
    return {
        "image": BENCH_IMAGE,
        "image_id": image_id,
        "runs_per_side": runs,
        "cases": cases,
        "memory": memory,
        "peer": peer,
    }


# ------------------------------------------------------------------------------------------ report
def _pair_range(case: dict[str, Any]) -> str:
    """The range of per-pair records-per-second ratios (direct time / our time), or "" when not paired.

    :param case: one entry of the result's ``cases``.
    """
    ours, direct = case["ours"].get("values", []), case["direct"].get("values", [])
    pairs = [b / a for a, b in zip(ours, direct, strict=False) if a > 0]
    return f" (per-pair ratios {min(pairs):.3f} - {max(pairs):.3f})" if pairs else ""


def _memory_label(memory: dict[str, Any]) -> str:
    """The figure label of the bounded-memory case.

    :param memory: the result's ``memory``.
    """
    size = memory.get("input_bytes", BIG_INPUT_BYTES) / 1024**3
    return f"peak RSS of the {size:.0f} GiB transform under a {memory.get('memory_limit_mb', MEMORY_LIMIT_MB)} MB cap"


def summary_rows(result: dict[str, Any]) -> list[str]:
    """This benchmark's rows of the report's Figures table: records per second (goals are minima), peak memory.

    :param result: the benchmark's result (``cases``, ``peer``, ``memory``).
    """
    from bench.report import s, verdict

    rows = []
    cases = result.get("cases", [])
    for case in cases:
        rows.append(
            f"| batch transform, {case['label']}: records/s | {case['ours_records_per_s']:,.0f}/s "
            f"({s(case['ours']['median'])}) | {case['direct_records_per_s']:,.0f}/s ({s(case['direct']['median'])}; "
            f"direct client, {case['concurrency']} connection(s)) | **{case['ratio_records_per_s']:.3f}** | "
            f"{verdict(case['ratio_records_per_s'], case.get('goal'), at_least=True)} |"
        )
    peer = result.get("peer") or {}
    if "ours_over_peer_records_per_s" in peer:
        ours = next((c for c in cases if c.get("case") == "multi_record"), None)
        rows.append(
            f"| batch transform, {ROWS:,} rows MultiRecord: records/s vs SageMaker SDK local mode | "
            + (f"{ours['ours_records_per_s']:,.0f}/s ({s(ours['ours']['median'])})" if ours else "")
            + f" | {peer['records_per_s']:,.0f}/s ({s(peer['seconds']['median'])}; SDK local mode) | "
            f"**{peer['ours_over_peer_records_per_s']:.3f}** | "
            f"{verdict(peer['ours_over_peer_records_per_s'], peer.get('goal'), at_least=True)} |"
        )
    elif peer.get("skipped"):
        rows.append("| batch transform vs SageMaker SDK local mode | | not run (see its section) | | |")
    memory = result.get("memory")
    if memory:
        done = memory.get("status") == "Completed"
        rows.append(
            f"| {_memory_label(memory)} | {memory['peak_rss_mb']:.0f} MB ({s(memory.get('seconds'))}) | "
            f"{memory.get('memory_limit_mb', MEMORY_LIMIT_MB)} MB (RLIMIT_AS) | — | "
            f"completes under the cap: {'met' if done else '**not met**'} |"
        )
    return rows


def report_lines(doc: dict[str, Any], charts: dict[str, str]) -> list[str]:
    """This benchmark's section of REPORT.md.

    :param doc: the benchmark's JSON document.
    :param charts: chart paths by name (none drawn for this benchmark).
    """
    from bench.report import _row, s, section_head, verdict

    r = doc["result"]
    lines = section_head(doc, __doc__)
    lines += [
        f"Image `{r.get('image', BENCH_IMAGE)}`, {r.get('runs_per_side', '?')} timed runs per side. Records per "
        "second are the rows over the median time; their ratio, ours / direct, is the inverse of the time ratio, "
        "and its goal is a minimum.",
        "",
    ]
    multi = None
    for case in r.get("cases", []):
        if case.get("case") == "multi_record":
            multi = case
        lines += [
            f"### {case['label']}",
            "",
            "| side | runs | median | min - max | records/s |",
            "| --- | --- | --- | --- | --- |",
            _row("BatchTransformOperator.execute", case["ours"]) + f" {case['ours_records_per_s']:,.0f} |",
            _row(f"direct client ({case['concurrency']} connection(s))", case["direct"])
            + f" {case['direct_records_per_s']:,.0f} |",
            "",
            f"**Records per second ours / direct: {case['ratio_records_per_s']:.3f}**{_pair_range(case)}. "
            f"Goal {verdict(case['ratio_records_per_s'], case.get('goal'), at_least=True)}.",
            "",
        ]
    peer = r.get("peer") or {}
    lines += ["### The peer: SageMaker Python SDK local mode", ""]
    if "ours_over_peer_records_per_s" in peer:
        lines += [
            f"{peer.get('peer', 'SDK local mode')}, Model.transformer(strategy='MultiRecord', max_payload=6), on the "
            f"same {ROWS:,} rows as the MultiRecord case; timed from building the Model until transform() returns.",
            "",
            "| side | runs | median | min - max | records/s |",
            "| --- | --- | --- | --- | --- |",
            _row("SDK local mode", peer["seconds"]) + f" {peer['records_per_s']:,.0f} |",
            "",
            f"**Records per second ours / local mode: {peer['ours_over_peer_records_per_s']:.3f}**"
            + (f" (ours: {multi['ours_records_per_s']:,.0f}/s in the MultiRecord case above)" if multi else "")
            + f". Goal {verdict(peer['ours_over_peer_records_per_s'], peer.get('goal'), at_least=True)}.",
            "",
        ]
    else:
        lines += [f"Not run: {peer.get('skipped', 'no result')}.", ""]
    memory = r.get("memory")
    if memory:
        lines += [
            f"### Bounded memory: {_memory_label(memory)}",
            "",
            "| input | rows | address-space cap | peak RSS | time | records/s | output rows checked | status |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
            f"| {memory['input_bytes'] / 1024**3:.2f} GiB | {memory.get('rows', 0):,} | "
            f"{memory.get('memory_limit_mb', MEMORY_LIMIT_MB)} MB | {memory['peak_rss_mb']:.0f} MB | "
            f"{s(memory.get('seconds'))} | {memory.get('records_per_s', 0):,.0f} | "
            f"{memory.get('output_rows_checked', 0):,} | {memory.get('status', '?')} |",
            "",
            "Every output row is counted against the input and every 1000th prediction is checked against the true "
            "linear model.",
            "",
        ]
    return lines
