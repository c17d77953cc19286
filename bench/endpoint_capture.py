"""Data capture on local endpoints: latency and throughput through the proxy with capture at 100%, at 0% and off,
each against its container's own published port, all measured side by side in one run.

Three endpoints of the example linear image (one container each) are deployed: DataCaptureConfig at 100% (input and
output, text/csv as text, into a file:// folder), at 0%, and none. For each, the endpoint's URL (client -> edge
nginx -> router nginx, whose Lua records each sampled request after its response -> container) and the container's
published port (client -> docker-proxy -> container), the `docker run -p` way, are measured with bench/endpoint.py's
clients, all six paths alternating: sequential requests in many small blocks, then 3 s rounds of 8 client threads
(one kept-alive connection each). Alternating all six spreads the load of the rest of the machine over every path
alike; the throughput figure is the ratio of the medians of requests per second (the median over cycles of six
rounds of ours / direct in the same cycle is shown too). While the client rounds run, each proxy container's CPU
time is read from its cgroup (cgroup v1 cpuacct, where the engine has it): CPU per request through each proxy is the
cost of capture least disturbed by other work on the machine. The capture files are counted at the end: every
request through the 100% endpoint must be there once, and the 0% one writes none.
"""

from __future__ import annotations

import json
import shutil
import statistics
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.common import (
    BENCH_IMAGE,
    RESULTS,
    BenchError,
    docker,
    ensure_bench_image,
    env_vars,
    fresh_dir,
    require_engine,
)
from bench.endpoint import (
    ADDED_P99_GOAL_MS,
    CLIENTS,
    THROUGHPUT_GOAL,
    WARM_UP_REQUESTS,
    _added_verdict,
    _context,
    _delete,
    _model,
    added_latency,
    concurrent_rounds,
    sequential_blocks,
    throughput_ratio,
)

NAME = "endpoint_capture"
CPUACCT = Path("/sys/fs/cgroup/cpuacct/docker")
TITLE = "Local endpoint data capture: latency and throughput at 100%, 0% and off, each vs the container's port"
DEFAULT_RUNS = 100  # blocks of sequential requests per path
# Small blocks, many of them: a burst of other work on the machine lands on every path alike, not on one block's.
SEQUENTIAL_BLOCK = 50
# Client rounds per path, and their length: 3 s as bench/endpoint (1 s rounds scatter by +-40% on a busy machine).
ROUNDS = 12
ROUND_S = 3.0
CAPTURE_P99_GOAL_MS = 2.0  # added p99 with capture at 100%
CAPTURE_THROUGHPUT_GOAL = 0.85  # ours / direct, 8 clients, capture at 100%
# (label, InitialSamplingPercentage or None for no capture, added p99 goal, throughput goal)
PHASES: tuple[tuple[str, int | None, float, float], ...] = (
    ("capture_100", 100, CAPTURE_P99_GOAL_MS, CAPTURE_THROUGHPUT_GOAL),
    ("capture_0", 0, ADDED_P99_GOAL_MS, THROUGHPUT_GOAL),
    ("no_capture", None, ADDED_P99_GOAL_MS, THROUGHPUT_GOAL),
)
PHASE_LABELS = {
    "capture_100": "capture at 100% (input and output)",
    "capture_0": "capture at 0%",
    "no_capture": "no data capture (bench/endpoint's figure)",
}


def _capture_config(destination: Path, percent: int | None) -> dict[str, Any] | None:
    """Return the DataCaptureConfig of a phase, or None.

    :param destination: the capture folder.
    :param percent: InitialSamplingPercentage, or None for no capture.
    """
    if percent is None:
        return None
    return {
        "EnableCapture": True,
        "InitialSamplingPercentage": percent,
        "DestinationS3Uri": f"file://{destination}",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
    }


def _deploy(name: str, model: str, capture: dict[str, Any] | None) -> dict[str, tuple[str, int]]:
    """Deploy an endpoint with a capture config; return its two paths: ``ours`` (its URL) and ``direct``.

    :param name: the endpoint name.
    :param model: the model URI.
    :param capture: the DataCaptureConfig, or None.
    """
    from ml_lifecycle import DeployEndpointOperator, settings
    from ml_lifecycle.compute.local.endpoints.record import read_endpoint

    operator = DeployEndpointOperator(
        task_id="deploy", endpoint_name=name, image_uri=BENCH_IMAGE, model_uri=model, data_capture=capture
    )
    url = operator.execute(_context(f"bench-capture-{uuid.uuid4().hex}"))["url"]
    record = read_endpoint(settings.home_dir(), name)
    if record is None or not record.urls:
        raise BenchError(f"endpoint {name} has no record after its deploy")
    return {
        "ours": ("127.0.0.1", int(urlsplit(url).port or 80)),
        "direct": ("127.0.0.1", int(urlsplit(record.urls[0]).port or 80)),
    }


def _cpu_ns(container_id: str) -> int | None:
    """Return a container's CPU time so far in ns (cgroup v1 cpuacct), or None where the engine keeps it elsewhere.

    :param container_id: the container's full id.
    """
    try:
        return int((CPUACCT / container_id / "cpuacct.usage").read_text())
    except (OSError, ValueError):
        return None


def _measure(paths: dict[str, dict[str, tuple[str, int]]], runs: int, proxies: dict[str, str]) -> dict[str, Any]:
    """Measure every phase's two paths, all six alternating; return each phase's results.

    :param paths: phase -> its paths (``ours``, ``direct``).
    :param runs: blocks of sequential requests per path.
    :param proxies: phase -> its proxy container's full id.
    """
    flat = {f"{phase}/{side}": path for phase, sides in paths.items() for side, path in sides.items()}
    sequential = sequential_blocks(flat, runs, SEQUENTIAL_BLOCK)
    cpu_before = {phase: _cpu_ns(proxy) for phase, proxy in proxies.items()}
    concurrent = concurrent_rounds(flat, [f"{phase}/ours" for phase in paths], ROUNDS, ROUND_S)
    cpu_after = {phase: _cpu_ns(proxy) for phase, proxy in proxies.items()}
    measured = {}
    for phase, _percent, p99_goal, ratio_goal in PHASES:
        seq = {side: sequential[f"{phase}/{side}"] for side in ("ours", "direct")}
        con = {side: concurrent[f"{phase}/{side}"] for side in ("ours", "direct")}
        measured[phase] = {
            "sequential": {**seq, **added_latency(seq["ours"], seq["direct"], p99_goal)},
            "concurrent": {
                **con,
                **throughput_ratio(con["ours"], con["direct"], ratio_goal),
                "seconds_per_round": ROUND_S,
                # context: the median over cycles (one round on each path) of ours / direct in the same cycle
                "median_pair_ratio": statistics.median(
                    a / b for a, b in zip(con["ours"]["rps"]["values"], con["direct"]["rps"]["values"], strict=True)
                ),
            },
            # every request through the URL: the warm-ups, the sequential blocks and the rounds
            "requests_through_url": WARM_UP_REQUESTS
            + seq["ours"]["requests"]
            + con["ours"]["warm_up_requests"]
            + con["ours"]["requests"],
        }
        before, after = cpu_before[phase], cpu_after[phase]
        if before is not None and after is not None:
            in_rounds = con["ours"]["warm_up_requests"] + con["ours"]["requests"]
            measured[phase]["proxy_cpu_us_per_request"] = (after - before) / 1000 / in_rounds
    return measured


def _records(folder: Path) -> int:
    """Count the capture records under a folder.

    :param folder: an endpoint's capture folder.
    """
    return sum(len(p.read_text().splitlines()) for p in folder.rglob("*.jsonl"))


def run(runs: int | None, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Deploy the three endpoints, measure them side by side; return the results and the capture files' count.

    :param runs: blocks of sequential requests per path; default DEFAULT_RUNS.
    :param say: receives progress lines.
    """
    from ml_lifecycle.compute.local.endpoints.proxy import proxy_name

    runs = runs or DEFAULT_RUNS
    require_engine()
    image_id = ensure_bench_image()
    work = fresh_dir(RESULTS / "work" / NAME)
    destination = work / "capture"
    names = {phase: f"bench-{phase.replace('_', '')}-{uuid.uuid4().hex[:6]}" for phase, *_ in PHASES}
    try:
        with env_vars(ML_LIFECYCLE_HOME=str(work / "home"), ML_LIFECYCLE_SERVING_HOST="127.0.0.1"):
            model = _model(work / "v1", "v1")
            try:
                paths = {}
                for phase, percent, *_ in PHASES:
                    say(f"  deploying the endpoint with {PHASE_LABELS[phase]}")
                    paths[phase] = _deploy(names[phase], model, _capture_config(destination, percent))
                say(f"  measuring 6 paths alternately: {runs} sequential blocks each, then rounds of {CLIENTS} clients")
                proxies = {
                    phase: docker("inspect", "-f", "{{.Id}}", proxy_name(names[phase])).stdout.strip()
                    for phase in names
                }
                phases = _measure(paths, runs, proxies)
            finally:
                for name in names.values():
                    _delete(name)  # the proxy's workers write what they hold as they stop
        records = {phase: _records(destination / names[phase]) for phase, *_ in PHASES}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for phase, measured in phases.items():
        measured["records"] = records[phase]
        say(_line(phase, measured))
    return {
        "image": BENCH_IMAGE,
        "image_id": image_id,
        "runs_per_side": runs,
        "sequential_block": SEQUENTIAL_BLOCK,
        "phases": phases,
    }


def _line(label: str, measured: dict[str, Any]) -> str:
    """One progress line of a phase.

    :param label: the phase.
    :param measured: its results.
    """
    seq, con = measured["sequential"], measured["concurrent"]
    return (
        f"  {label}: added p99 {seq['added_p99_ms']:+.3f} ms (p50 {seq['added_p50_ms']:+.3f} ms); {CLIENTS} clients "
        f"{con['ours']['rps']['median']:.0f} vs {con['direct']['rps']['median']:.0f} req/s, "
        f"ratio {con['throughput_ratio']:.3f}; proxy CPU {_cpu_text(measured)} per request; "
        f"{measured['records']:,} records for {measured['requests_through_url']:,} requests through the URL"
    )


def _cpu_text(measured: dict[str, Any]) -> str:
    """The proxy's CPU time per request of a phase, or a dash where the engine's cgroups could not be read.

    :param measured: the phase's results.
    """
    cpu = measured.get("proxy_cpu_us_per_request")
    return f"{cpu:.1f} µs" if cpu is not None else "—"


# ---------------------------------------------------------------------------------------------- report
def summary_rows(result: dict[str, Any]) -> list[str]:
    """This benchmark's rows of the report's Figures table: added p99 and throughput ratio of each phase.

    :param result: the benchmark's result.
    """
    from bench.report import verdict

    rows = []
    for label, measured in (result.get("phases") or {}).items():
        seq, con = measured["sequential"], measured["concurrent"]
        what = PHASE_LABELS.get(label, label)
        rows += [
            f"| endpoint latency, {what}: p50 / p99 through the proxy | {seq['ours']['p50_ms']:.3f} / "
            f"{seq['ours']['p99_ms']:.3f} ms | {seq['direct']['p50_ms']:.3f} / {seq['direct']['p99_ms']:.3f} ms "
            f"(the container's published port) | **{seq['added_p99_ms']:+.3f} ms** added p99 | "
            f"{_added_verdict(seq['added_p99_ms'], seq.get('goal_added_p99_ms'))} |",
            f"| endpoint throughput, {what}, {con['clients']} clients | {con['ours']['rps']['median']:,.0f} req/s | "
            f"{con['direct']['rps']['median']:,.0f} req/s (the container's published port) | "
            f"**{con['throughput_ratio']:.3f}** (median of per-cycle ratios "
            f"{con.get('median_pair_ratio', con['throughput_ratio']):.3f}) | "
            f"{verdict(con['throughput_ratio'], con.get('goal_throughput_ratio'), at_least=True)} |",
        ]
    return rows


def report_lines(doc: dict[str, Any], charts: dict[str, str]) -> list[str]:
    """This benchmark's section of REPORT.md.

    :param doc: the benchmark's JSON document.
    :param charts: chart paths by name (none drawn for this benchmark).
    """
    from bench.report import section_head

    r = doc["result"]
    lines = section_head(doc, __doc__)
    lines += [
        f"Image `{r.get('image', BENCH_IMAGE)}`, one container; {r.get('runs_per_side', '?')} blocks of {r.get('sequential_block', SEQUENTIAL_BLOCK)} sequential "
        f"requests per path, then {ROUNDS} rounds of {ROUND_S:.0f} s per path with 8 clients, the paths alternating.",
        "",
        "| phase | path | sequential p50 | sequential p99 | 8 clients: req/s (median of rounds) | p99 under load "
        "| proxy CPU per request |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for label, measured in (r.get("phases") or {}).items():
        seq, con = measured["sequential"], measured["concurrent"]
        for side, path in (("ours", "endpoint URL"), ("direct", "container's published port")):
            lines.append(
                f"| {PHASE_LABELS.get(label, label)} | {path} | {seq[side]['p50_ms']:.3f} ms | "
                f"{seq[side]['p99_ms']:.3f} ms | {con[side]['rps']['median']:,.0f} | {con[side]['p99_ms']:.3f} ms | "
                f"{_cpu_text(measured) if side == 'ours' else '—'} |"
            )
    lines += ["", "Capture files after the run (written by the proxies as they stopped, counted line by line):", ""]
    for label, measured in (r.get("phases") or {}).items():
        lines.append(
            f"- {PHASE_LABELS.get(label, label)}: **{measured['records']:,} records** for "
            f"{measured['requests_through_url']:,} requests through the endpoint's URL."
        )
    return [*lines, ""]


if __name__ == "__main__":
    print(json.dumps(run(None), indent=1))
