"""Data capture on a local endpoint: latency and throughput through the proxy with capture at 100%, at 0% and off,
each against the container's own published port.

One endpoint of the example linear image (one container) is deployed with DataCaptureConfig at 100% (input and
output, text/csv as text, into a file:// folder); the endpoint's URL (client -> edge nginx -> router nginx, whose
Lua records each request after its response -> container) and the container's published port (client ->
docker-proxy -> container) are measured side by side as bench/endpoint.py does: sequential requests in
alternating blocks, then 8 client threads for a fixed time per round, rounds alternating. The endpoint is then
updated to 0% and measured the same way against its new container, then updated with no capture at all (the
figures of the endpoint benchmark). The capture files are counted at the end: every request through the URL at
100% must be there once.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.common import BENCH_IMAGE, RESULTS, BenchError, ensure_bench_image, env_vars, fresh_dir, require_engine
from bench.endpoint import (
    ADDED_P99_GOAL_MS,
    CLIENTS,
    THROUGHPUT_GOAL,
    WARM_UP_REQUESTS,
    _added_verdict,
    _context,
    _delete,
    _model,
    _sequential,
    throughput,
)

NAME = "endpoint_capture"
TITLE = "Local endpoint data capture: latency and throughput at 100%, 0% and off, each vs the container's port"
DEFAULT_RUNS = 7
CAPTURE_P99_GOAL_MS = 2.0  # added p99 with capture at 100%
CAPTURE_THROUGHPUT_GOAL = 0.85  # ours / direct, 8 clients, capture at 100%
# (label, InitialSamplingPercentage or None for no capture, goals)
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


def _phase(name: str, model: str, capture: dict[str, Any] | None, runs: int) -> tuple[dict[str, Any], int]:
    """Deploy (or update) the endpoint with a capture config and measure both paths; return the results and how
    many requests went through the endpoint's URL.

    :param name: the endpoint name.
    :param model: the model URI.
    :param capture: the DataCaptureConfig, or None.
    :param runs: blocks of sequential requests per path.
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
    paths = {
        "ours": ("127.0.0.1", int(urlsplit(url).port or 80)),
        "direct": ("127.0.0.1", int(urlsplit(record.urls[0]).port or 80)),
    }
    sequential = _sequential(paths, runs)
    concurrent = throughput(paths, THROUGHPUT_GOAL)
    through_url = WARM_UP_REQUESTS + sequential["ours"]["requests"] + concurrent["warm_up_requests"]
    return {"sequential": sequential, "concurrent": concurrent}, through_url + concurrent["ours"]["requests"]


def run(runs: int | None, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure the three phases on one endpoint; return the results and the capture files' count.

    :param runs: blocks of sequential requests per path; default DEFAULT_RUNS.
    :param say: receives progress lines.
    """
    runs = runs or DEFAULT_RUNS
    require_engine()
    image_id = ensure_bench_image()
    work = fresh_dir(RESULTS / "work" / NAME)
    destination = work / "capture"
    name = f"bench-cap-{uuid.uuid4().hex[:6]}"
    phases: dict[str, Any] = {}
    try:
        with env_vars(ML_LIFECYCLE_HOME=str(work / "home"), ML_LIFECYCLE_SERVING_HOST="127.0.0.1"):
            model = _model(work / "v1", "v1")
            try:
                for label, percent, p99_goal, ratio_goal in PHASES:
                    say(f"  {PHASE_LABELS[label]}: deploying, then measuring the URL and the container's port")
                    measured, through_url = _phase(name, model, _capture_config(destination, percent), runs)
                    measured["requests_through_url"] = through_url
                    measured["sequential"]["goal_added_p99_ms"] = p99_goal
                    measured["concurrent"]["goal_throughput_ratio"] = ratio_goal
                    phases[label] = measured
                    say(_line(label, measured))
            finally:
                _delete(name)  # the proxy's workers write what they hold as they stop
        records = sum(len(p.read_text().splitlines()) for p in destination.rglob("*.jsonl"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    expected = phases["capture_100"]["requests_through_url"]
    say(f"  capture files: {records:,} records; {expected:,} requests went through the URL at 100%")
    return {
        "image": BENCH_IMAGE,
        "image_id": image_id,
        "runs_per_side": runs,
        "phases": phases,
        "records": records,
        "expected_records": expected,
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
        f"ratio {con['throughput_ratio']:.3f}"
    )


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
            f"**{con['throughput_ratio']:.3f}** | "
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
        f"Image `{r.get('image', BENCH_IMAGE)}`, one container; {r.get('runs_per_side', '?')} blocks of sequential "
        "requests per path, then rounds of 8 clients alternating between the paths.",
        "",
        "| phase | path | sequential p50 | sequential p99 | 8 clients: req/s (median of rounds) | p99 under load |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for label, measured in (r.get("phases") or {}).items():
        seq, con = measured["sequential"], measured["concurrent"]
        for side, path in (("ours", "endpoint URL"), ("direct", "container's published port")):
            lines.append(
                f"| {PHASE_LABELS.get(label, label)} | {path} | {seq[side]['p50_ms']:.3f} ms | "
                f"{seq[side]['p99_ms']:.3f} ms | {con[side]['rps']['median']:,.0f} | {con[side]['p99_ms']:.3f} ms |"
            )
    lines += [
        "",
        f"Capture files after the run: **{r.get('records', 0):,} records** for {r.get('expected_records', 0):,} "
        "requests through the endpoint's URL at 100% (0% and no capture write none).",
        "",
    ]
    return lines


if __name__ == "__main__":
    print(json.dumps(run(None), indent=1))
