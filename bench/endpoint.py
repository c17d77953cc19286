"""Local endpoints: DeployEndpointOperator against ``docker run -d``, and latency through the proxy against the container.

Deploy: the clock runs from DeployEndpointOperator.execute() of a new endpoint (new network, nginx proxy, one
serving container of the example linear image) until the first POST /invocations through the endpoint's URL
answers 200, against ``docker run -d`` of the same image with the same model until GET /ping answers on its
published port (the peer's "deploy until the first prediction" baseline). The sides alternate after a warm-up that
builds the proxy image; each endpoint is deleted (untimed) before the next run. An update (redeploy of a deployed
endpoint with another model, until the new model answers) is timed too, with no baseline.

Latency: one endpoint stays up; the same container is reached through the endpoint's URL (client -> the edge nginx
on the host's network -> the router nginx, over a unix socket -> container) and directly on its own published port (client -> docker-proxy -> container), the way
`docker run -p` serves it; the goals compare these two. For context, a third path reaches the container's address on
its network from the host (client -> container, no proxy of any kind), which no `docker run -p` user has by default.
Sequential requests alternate in blocks between the paths; then 8 client threads (one keep-alive connection each)
run for a fixed time on each path, alternately. The payload is one CSV row; the client is Python's http.client.
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import statistics
import threading
import time
import types
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
    ratio_of,
    require_engine,
    summary,
)

NAME = "endpoint"
TITLE = "Local endpoints: deploy vs docker run -d; latency and throughput through the proxy vs the container"
DEFAULT_RUNS = 7
DEPLOY_GOAL = 2.0  # ours / docker run -d, deploy until the first prediction
ADDED_P99_GOAL_MS = 1.0
THROUGHPUT_GOAL = 0.9  # ours / direct, 8 clients
ROW = b"1,1,1,1,1,1,1,1"
BLOCK = 250  # sequential requests per block, alternating paths
WARM_UP_REQUESTS = 100  # sequential requests on each path before the timed blocks
CLIENTS = 8
CONCURRENT_S = 3.0
# Rounds per side, alternating: single 3 s rounds on 2 cores scatter by +-15%, so the median needs several.
CONCURRENT_ROUNDS = 8
WAIT_S = 60.0


def _context(run_id: str) -> dict[str, Any]:
    """A minimal Airflow task context for execute()."""
    return {"ti": types.SimpleNamespace(dag_id="bench", task_id="deploy", map_index=-1), "run_id": run_id}


def _model(folder: Path, version: str) -> str:
    """Write model.json (unpacked, as `docker run -v` needs it) and model.tar.gz; return the archive's URI."""
    import io
    import tarfile

    folder.mkdir(parents=True, exist_ok=True)
    data = json.dumps({"weights": [1.0] * 8, "intercept": 0.0, "n_features": 8, "target_column": 0, "version": version})
    (folder / "model.json").write_text(data)
    with tarfile.open(folder / "model.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("model.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data.encode()))
    return f"file://{folder / 'model.tar.gz'}"


def _free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int, method: str, path: str, timeout_s: float = 2.0) -> tuple[int, str]:
    """One request on a fresh connection: (status, X-Model-Version), or (0, "") when nothing answered."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        body = ROW if method == "POST" else None
        conn.request(method, path, body=body, headers={"Content-Type": "text/csv"})
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("X-Model-Version", "")
    except OSError:
        return 0, ""
    finally:
        conn.close()


def _until(check: Callable[[], bool], what: str) -> None:
    """Poll check every millisecond until it is true."""
    deadline = time.perf_counter() + WAIT_S
    while not check():
        if time.perf_counter() > deadline:
            raise BenchError(f"{what} did not happen within {WAIT_S:.0f} s")
        time.sleep(0.001)


def _docker_run(model_dir: Path) -> float:
    """Time `docker run -d` of the image until GET /ping answers 200 on its published port."""
    port = _free_port()
    name = f"bench-ep-{uuid.uuid4().hex[:8]}"
    started = time.perf_counter()
    docker("run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8080", "-v", f"{model_dir}:/opt/ml/model:ro",
           BENCH_IMAGE, "serve")  # fmt: skip
    try:
        _until(lambda: _answers(port, "GET", "/ping")[0] == 200, "docker run: GET /ping")
        return time.perf_counter() - started
    finally:
        docker("rm", "-f", name, check=False)


def _deploy(name: str, model_uri: str, version: str) -> tuple[float, str]:
    """Time DeployEndpointOperator.execute() until POST /invocations through the URL answers with version."""
    from ml_lifecycle import DeployEndpointOperator

    operator = DeployEndpointOperator(task_id="deploy", endpoint_name=name, image_uri=BENCH_IMAGE, model_uri=model_uri)
    started = time.perf_counter()
    url = operator.execute(_context(f"bench-{uuid.uuid4().hex}"))["url"]
    port = int(urlsplit(url).port or 80)
    _until(lambda: _answers(port, "POST", "/invocations") == (200, version), "the first prediction")
    return time.perf_counter() - started, url


def _delete(name: str) -> None:
    from ml_lifecycle import DeleteEndpointOperator

    DeleteEndpointOperator(task_id="delete", endpoint_name=name).execute(_context("bench-delete"))


def _deploys(runs: int, work: Path, say: Callable[[str], None]) -> dict[str, Any]:
    """Alternate new-endpoint deploys and docker run -d; then time updates of one endpoint."""
    v1, v2 = _model(work / "v1", "v1"), _model(work / "v2", "v2")
    say("  warm-up: one deploy (builds the proxy image if needed) and one docker run")
    name = f"bench-{uuid.uuid4().hex[:6]}"
    _deploy(name, v1, "v1")
    _delete(name)
    _docker_run(work / "v1")
    ours, base = [], []
    for run in range(runs):
        name = f"bench-{uuid.uuid4().hex[:6]}"
        try:
            ours.append(_deploy(name, v1, "v1")[0])
        finally:
            _delete(name)
        base.append(_docker_run(work / "v1"))
        say(f"  deploy {run + 1}/{runs}: ours {ours[-1]:.3f} s, docker run -d {base[-1]:.3f} s")
    updates = []
    name = f"bench-{uuid.uuid4().hex[:6]}"
    try:
        _deploy(name, v1, "v1")
        for run in range(runs):
            version, uri = ("v2", v2) if run % 2 == 0 else ("v1", v1)
            updates.append(_deploy(name, uri, version)[0])
    finally:
        _delete(name)
    say(f"  update (redeploy until the new model answers): median {statistics.median(updates):.3f} s")
    out = {"ours": summary(ours), "docker_run": summary(base), **ratio_of(summary(ours), summary(base))}
    out.update(goal=DEPLOY_GOAL, update=summary(updates))
    return out


def _one(conn: http.client.HTTPConnection) -> float:
    """POST one row on a kept-alive connection; return its seconds."""
    started = time.perf_counter()
    conn.request("POST", "/invocations", body=ROW, headers={"Content-Type": "text/csv"})
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        raise BenchError(f"POST /invocations answered {response.status}")
    return time.perf_counter() - started


def _percentiles(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {
        "requests": len(ordered),
        "p50_ms": ordered[len(ordered) // 2] * 1e3,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e3,
    }


def sequential_blocks(paths: dict[str, tuple[str, int]], blocks: int, block: int = BLOCK) -> dict[str, Any]:
    """Alternate blocks of sequential requests on each path (host, port) after a warm-up; return percentiles per path.

    :param paths: side -> (host, port).
    :param blocks: blocks per path.
    :param block: requests per block; default BLOCK.
    """
    conns = {side: http.client.HTTPConnection(*path, timeout=30) for side, path in paths.items()}
    times: dict[str, list[float]] = {side: [] for side in paths}
    for conn in conns.values():
        for _ in range(WARM_UP_REQUESTS):
            _one(conn)
    for _ in range(blocks):
        for side, conn in conns.items():
            times[side].extend(_one(conn) for _ in range(block))
    for conn in conns.values():
        conn.close()
    return {side: _percentiles(values) for side, values in times.items()}


def added_latency(ours: dict[str, Any], direct: dict[str, Any], goal_ms: float) -> dict[str, Any]:
    """Return the latency one path adds to another at p50 and p99, in ms, and the p99 goal.

    :param ours: the percentiles through the proxy.
    :param direct: the percentiles on the container's port.
    :param goal_ms: the most added p99 asked for.
    """
    return {
        "added_p50_ms": ours["p50_ms"] - direct["p50_ms"],
        "added_p99_ms": ours["p99_ms"] - direct["p99_ms"],
        "goal_added_p99_ms": goal_ms,
    }


def _sequential(paths: dict[str, tuple[str, int]], blocks: int) -> dict[str, Any]:
    """Alternate blocks of sequential requests on each path (host, port); return percentiles per path."""
    out = sequential_blocks(paths, blocks)
    out.update(added_latency(out["ours"], out["direct"], ADDED_P99_GOAL_MS))
    if "address" in out:
        out["added_p99_vs_address_ms"] = out["ours"]["p99_ms"] - out["address"]["p99_ms"]
    return out


def _concurrent(path: tuple[str, int], seconds: float = CONCURRENT_S) -> tuple[float, list[float]]:
    """Run CLIENTS threads for seconds (default CONCURRENT_S) on one path (host, port); return (requests per second,
    latencies)."""
    stop = time.perf_counter() + seconds
    latencies: list[list[float]] = [[] for _ in range(CLIENTS)]

    def client(index: int) -> None:
        conn = http.client.HTTPConnection(*path, timeout=30)
        while time.perf_counter() < stop:
            latencies[index].append(_one(conn))
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    merged = [t for values in latencies for t in values]
    return len(merged) / (time.perf_counter() - started), merged


def concurrent_rounds(
    paths: dict[str, tuple[str, int]],
    warm_up: list[str],
    rounds: int = CONCURRENT_ROUNDS,
    seconds: float = CONCURRENT_S,
) -> dict[str, Any]:
    """Run rounds of CLIENTS clients on each path (host, port), alternately, after one untimed round on each path
    named in warm_up; return requests per second (each round's in ``rps.values``, in order) and latencies per path.

    :param paths: side -> (host, port).
    :param warm_up: the sides warmed up first (nginx opens its upstream connections); their requests are in
        ``warm_up_requests``.
    :param rounds: rounds per path; default CONCURRENT_ROUNDS.
    :param seconds: the length of a round; default CONCURRENT_S.
    """
    rates: dict[str, list[float]] = {side: [] for side in paths}
    samples: dict[str, list[float]] = {side: [] for side in paths}
    warmed = {side: len(_concurrent(paths[side], seconds)[1]) for side in warm_up}
    for _ in range(rounds):
        for side in sorted(paths):
            rate, latencies = _concurrent(paths[side], seconds)
            rates[side].append(rate)
            samples[side].extend(latencies)
    out: dict[str, Any] = {side: {"rps": summary(rates[side]), **_percentiles(samples[side])} for side in rates}
    for side, requests in warmed.items():
        out[side]["warm_up_requests"] = requests
    return out


def throughput_ratio(ours: dict[str, Any], direct: dict[str, Any], goal: float) -> dict[str, Any]:
    """Return the ratio of median requests per second, ours / direct, with how it was measured and its goal.

    :param ours: concurrent_rounds' result for the path through the proxy.
    :param direct: the same for the container's port.
    :param goal: the least ratio asked for.
    """
    return {
        "clients": CLIENTS,
        "rounds_per_side": ours["rps"]["runs"],
        "throughput_ratio": ours["rps"]["median"] / direct["rps"]["median"],
        "goal_throughput_ratio": goal,
    }


def _latency(runs: int, work: Path, say: Callable[[str], None]) -> dict[str, Any]:
    """Deploy one endpoint and compare the two paths, sequential and with CLIENTS clients."""
    from ml_lifecycle import DeployEndpointOperator

    name = f"bench-{uuid.uuid4().hex[:6]}"
    uri = _model(work / "lat", "v1")
    try:
        result = DeployEndpointOperator(task_id="deploy", endpoint_name=name, image_uri=BENCH_IMAGE, model_uri=uri)
        url = result.execute(_context("bench-latency"))["url"]
        from ml_lifecycle import settings
        from ml_lifecycle.compute.local.endpoints.record import read_endpoint

        record = read_endpoint(settings.home_dir(), name)
        if record is None or not record.urls:
            raise BenchError(f"endpoint {name} has no record after its deploy")
        address, _, port = record.upstreams[0].rpartition(":")
        paths = {
            "ours": ("127.0.0.1", int(urlsplit(url).port or 80)),
            "direct": ("127.0.0.1", int(urlsplit(record.urls[0]).port or 80)),
            "address": (address, int(port)),
        }
        say(f"  sequential: {runs * BLOCK} requests per path, in alternating blocks of {BLOCK}")
        sequential = _sequential(paths, runs)
        say(
            f"  sequential p50/p99: ours {sequential['ours']['p50_ms']:.3f}/{sequential['ours']['p99_ms']:.3f} ms, "
            f"direct {sequential['direct']['p50_ms']:.3f}/{sequential['direct']['p99_ms']:.3f} ms"
        )
        concurrent = concurrent_rounds(paths, ["ours"])
        concurrent.update(throughput_ratio(concurrent["ours"], concurrent["direct"], THROUGHPUT_GOAL))
        concurrent["seconds_per_round"] = CONCURRENT_S
        concurrent["ratio_to_address"] = concurrent["ours"]["rps"]["median"] / concurrent["address"]["rps"]["median"]
        say(
            f"  {CLIENTS} clients: ours {concurrent['ours']['rps']['median']:.0f} req/s, direct "
            f"{concurrent['direct']['rps']['median']:.0f} req/s (ratio {concurrent['throughput_ratio']:.2f}), "
            f"container address {concurrent['address']['rps']['median']:.0f} req/s"
        )
        return {"sequential": sequential, "concurrent": concurrent}
    finally:
        _delete(name)


def run(runs: int | None, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the deploy and latency comparisons; return the results.

    :param runs: deploys per side (and blocks of sequential requests); default DEFAULT_RUNS.
    :param say: receives progress lines.
    """
    runs = runs or DEFAULT_RUNS
    require_engine()
    say(f"  building {BENCH_IMAGE} from examples/containers/linear (cached layers)")
    image_id = ensure_bench_image()
    work = fresh_dir(RESULTS / "work" / NAME)
    try:
        with env_vars(ML_LIFECYCLE_HOME=str(work / "home"), ML_LIFECYCLE_SERVING_HOST="127.0.0.1"):
            deploy = _deploys(runs, work, say)
            latency = _latency(runs, work, say)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"image": BENCH_IMAGE, "image_id": image_id, "runs_per_side": runs, "deploy": deploy, **latency}


# ---------------------------------------------------------------------------------------------- report
PATH_LABELS = {
    "ours": "endpoint URL (edge and router nginx, on the host network)",
    "direct": "container's published port (docker-proxy), as `docker run -p`",
    "address": "container's address on its network, from the host (no proxy; context)",
}


def _paths(measured: dict[str, Any]) -> list[tuple[str, str]]:
    """Return (side, label) of the paths a result measured, in report order.

    :param measured: the sequential or concurrent result.
    """
    return [(side, label) for side, label in PATH_LABELS.items() if side in measured]


def _added_verdict(added_ms: float, goal_ms: float | None) -> str:
    """The goal column of the added p99 latency: a strict maximum in milliseconds.

    :param added_ms: ours' p99 minus the direct path's, in ms.
    :param goal_ms: the goal, or None.
    """
    if goal_ms is None:
        return "—"
    return f"< {goal_ms:.2f} ms: {'met' if added_ms < goal_ms else '**not met**'}"


def summary_rows(result: dict[str, Any]) -> list[str]:
    """This benchmark's rows of the report's Figures table: deploy, update, sequential latency, throughput.

    :param result: the benchmark's result (``deploy``, ``sequential``, ``concurrent``).
    """
    from bench.report import s, verdict

    rows = []
    deploy = result.get("deploy") or {}
    if "ratio" in deploy:
        pairs = (
            f" (per-pair {deploy['pair_ratio_min']:.3f} - {deploy['pair_ratio_max']:.3f})"
            if "pair_ratio_min" in deploy
            else ""
        )
        rows.append(
            f"| endpoint deploy until the first prediction | {s(deploy['ours']['median'])} | "
            f"{s(deploy['docker_run']['median'])} (`docker run -d` until GET /ping) | **{deploy['ratio']:.3f}**{pairs} | "
            f"{verdict(deploy['ratio'], deploy.get('goal'))} |"
        )
    if deploy.get("update"):
        rows.append(
            f"| endpoint update: redeploy with another model until it answers | {s(deploy['update']['median'])} | "
            "— (no baseline) | — | — |"
        )
    seq = result.get("sequential") or {}
    if "added_p99_ms" in seq:
        rows.append(
            f"| endpoint latency, sequential, through the proxy: p50 / p99 | {seq['ours']['p50_ms']:.3f} / "
            f"{seq['ours']['p99_ms']:.3f} ms | {seq['direct']['p50_ms']:.3f} / {seq['direct']['p99_ms']:.3f} ms "
            f"(the container's published port) | **{seq['added_p99_ms']:+.3f} ms** added p99 ({seq['added_p50_ms']:+.3f} ms "
            f"p50) | {_added_verdict(seq['added_p99_ms'], seq.get('goal_added_p99_ms'))} |"
        )
    con = result.get("concurrent") or {}
    if "throughput_ratio" in con:
        rows.append(
            f"| endpoint throughput, {con.get('clients', CLIENTS)} clients, {con.get('rounds_per_side', con['ours']['rps']['runs'])} rounds per "
            f"side, through the proxy | {con['ours']['rps']['median']:,.0f} req/s (p50 / p99 {con['ours']['p50_ms']:.2f} "
            f"/ {con['ours']['p99_ms']:.2f} ms) | {con['direct']['rps']['median']:,.0f} req/s (p50 / p99 "
            f"{con['direct']['p50_ms']:.2f} / {con['direct']['p99_ms']:.2f} ms; the container's published port) | "
            f"**{con['throughput_ratio']:.3f}** | "
            f"{verdict(con['throughput_ratio'], con.get('goal_throughput_ratio'), at_least=True)} |"
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
    lines += [f"Image `{r.get('image', BENCH_IMAGE)}`, {r.get('runs_per_side', '?')} deploys per side.", ""]
    deploy = r.get("deploy") or {}
    if "ratio" in deploy:
        lines += [
            "### Deploy until the first prediction",
            "",
            "| side | runs | median | min - max |",
            "| --- | --- | --- | --- |",
            _row("DeployEndpointOperator.execute until POST /invocations answers", deploy["ours"]),
            _row("`docker run -d` until GET /ping answers", deploy["docker_run"]),
        ]
        if deploy.get("update"):
            lines.append(_row("update (context): redeploy until the new model answers", deploy["update"]))
        pairs = (
            f" (per-pair ratios {deploy['pair_ratio_min']:.3f} - {deploy['pair_ratio_max']:.3f})"
            if "pair_ratio_min" in deploy
            else ""
        )
        overhead = deploy["ours"]["median"] - deploy["docker_run"]["median"]
        lines += [
            "",
            f"**Ratio of medians ours / docker run -d: {deploy['ratio']:.3f}**{pairs}; overhead "
            f"{overhead * 1000:+.0f} ms. Goal {verdict(deploy['ratio'], deploy.get('goal'))}.",
            "",
        ]
    seq = r.get("sequential") or {}
    if "added_p99_ms" in seq:
        lines += [
            "### Latency, sequential requests",
            "",
            "| path | requests | p50 | p99 |",
            "| --- | --- | --- | --- |",
        ]
        for side, label in _paths(seq):
            lines.append(
                f"| {label} | {seq[side]['requests']:,} | {seq[side]['p50_ms']:.3f} ms | {seq[side]['p99_ms']:.3f} ms |"
            )
        lines += [
            "",
            f"**Added by the proxy: {seq['added_p99_ms']:+.3f} ms at p99** ({seq['added_p50_ms']:+.3f} ms at p50). "
            f"Goal {_added_verdict(seq['added_p99_ms'], seq.get('goal_added_p99_ms'))}.",
            "",
        ]
        if "added_p99_vs_address_ms" in seq:
            lines += [
                f"Against the container's address with no proxy at all (context, no goal): "
                f"{seq['added_p99_vs_address_ms']:+.3f} ms at p99.",
                "",
            ]
    con = r.get("concurrent") or {}
    if "throughput_ratio" in con:
        clients = con.get("clients", CLIENTS)
        lines += [
            f"### Throughput, {clients} clients",
            "",
            f"{con.get('rounds_per_side', con['ours']['rps']['runs'])} rounds per side of {con.get('seconds_per_round', CONCURRENT_S):.0f} s "
            f"each, alternated; each client thread keeps one connection.",
            "",
            "| path | rounds | req/s (median) | min - max | requests | p50 under load | p99 under load |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for side, label in _paths(con):
            c = con[side]
            lines.append(
                f"| {label} | {c['rps']['runs']} | {c['rps']['median']:,.0f} | {c['rps']['min']:,.0f} - "
                f"{c['rps']['max']:,.0f} | {c.get('requests', 0):,} | {c.get('p50_ms', 0):.3f} ms | "
                f"{c.get('p99_ms', 0):.3f} ms |"
            )
        lines += [
            "",
            f"**Throughput ratio ours / direct: {con['throughput_ratio']:.3f}** (medians of requests per second). "
            f"Goal {verdict(con['throughput_ratio'], con.get('goal_throughput_ratio'), at_least=True)}.",
            "",
        ]
        if "ratio_to_address" in con:
            lines += [
                f"Against the container's address with no proxy at all (context, no goal): "
                f"{con['ratio_to_address']:.3f}.",
                "",
            ]
    return lines


if __name__ == "__main__":
    print(json.dumps(run(None), indent=1))
