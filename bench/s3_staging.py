"""Staging a 2 GB channel from S3 (a moto server) against boto3's own download_file of the same objects.

16 objects of 128 MiB (the same random block each) under one prefix are uploaded once, untimed, to a moto server on
this machine. Ours: ``S3Store.download_prefix`` of that prefix into an empty folder, as a training channel is staged.
Baseline: boto3's ``download_file`` of each object in turn, with the default ``TransferConfig`` (multipart, 10
threads per object), from the same endpoint into another empty folder. The sides alternate (ours first) after one
warm-up pair; our copy is checked to hold every byte. The figure is throughput: boto3's time over ours, so above 1
is faster.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import RESULTS, BenchError, fresh_dir, ratio_of, summary

NAME = "s3_staging"
TITLE = "Staging a 2 GB S3 channel: our store vs boto3 download_file, same moto endpoint"
DEFAULT_RUNS = 3
OBJECT_COUNT = 16
OBJECT_BYTES = 128 * 1024 * 1024
BUCKET = "bench-staging"


def _start_moto(log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start a moto server on a free port and wait until it answers.

    :param log: where its output goes.
    """
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from support.moto import start_moto

    return start_moto(log)


def run(runs: int | None, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Upload 2 GB as 16 objects, then time both downloads alternately.

    :param runs: timed runs per side (default 3).
    :param say: progress output.
    """
    import boto3
    from boto3.s3.transfer import TransferConfig

    from ml_lifecycle.core.uris import parse_uri
    from ml_lifecycle.stores.s3_store import S3Store

    runs = runs or DEFAULT_RUNS
    work = fresh_dir(RESULTS / "work" / NAME)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    server, endpoint = _start_moto(work / "moto.log")
    try:
        client = boto3.session.Session().client("s3", endpoint_url=endpoint, region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        block = os.urandom(OBJECT_BYTES)
        for i in range(OBJECT_COUNT):
            client.put_object(Bucket=BUCKET, Key=f"channel/part-{i:03d}.bin", Body=block)
        del block
        say(f"bench: {NAME}: uploaded {OBJECT_COUNT} x {OBJECT_BYTES >> 20} MiB to {endpoint}")
        store = S3Store(lambda: boto3.session.Session().client("s3", endpoint_url=endpoint, region_name="us-east-1"))
        uri = parse_uri(f"s3://{BUCKET}/channel")
        ours: list[float] = []
        plain: list[float] = []
        for index in range(runs + 1):
            target = fresh_dir(work / "ours")
            started = time.perf_counter()
            store.download_prefix(uri, str(target))
            a = time.perf_counter() - started
            target = fresh_dir(work / "plain")
            started = time.perf_counter()
            for i in range(OBJECT_COUNT):
                key = f"channel/part-{i:03d}.bin"
                client.download_file(BUCKET, key, str(target / key.rsplit("/", 1)[1]), Config=TransferConfig())
            b = time.perf_counter() - started
            if index:
                ours.append(a)
                plain.append(b)
            say(f"bench: {NAME}: ours {a:.2f} s, boto3 {b:.2f} s")
        total = OBJECT_COUNT * OBJECT_BYTES
        if sum(f.stat().st_size for f in (work / "ours").rglob("*") if f.is_file()) != total:
            raise BenchError("our staging did not download every byte")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    ours_stats, plain_stats = summary(ours), summary(plain)
    # The figure is throughput: ours relative to boto3's (time of boto3 / our time), goal at least 0.9.
    throughput = plain_stats["median"] / ours_stats["median"]
    return {
        "ours": ours_stats,
        "boto3": plain_stats,
        "bytes": total,
        **ratio_of(ours_stats, plain_stats),
        "figures": [
            {
                "label": "staging a 2 GB channel from S3 (moto), throughput vs boto3 download_file",
                "ours_s": ours_stats["median"],
                "baseline_s": plain_stats["median"],
                "baseline": "boto3 download_file per object",
                "ratio": throughput,
                "goal": 0.9,
                "goal_is_max": False,
            }
        ],
    }


# ------------------------------------------------------------------------------------------------ report
def report_lines(doc: dict[str, Any], charts: dict[str, str]) -> list[str]:
    """This benchmark's section of REPORT.md (its Figures row comes from the result's ``figures``).

    :param doc: the benchmark's JSON document.
    :param charts: chart paths by name (none drawn for this benchmark).
    """
    from bench.report import _row, section_head, verdict

    r = doc["result"]
    ours, boto = r.get("ours"), r.get("boto3")
    lines = section_head(doc, __doc__)
    if not ours or not boto:
        return lines
    total = r.get("bytes", OBJECT_COUNT * OBJECT_BYTES)
    figure = next(iter(r.get("figures", [])), {})
    goal = figure.get("goal", 0.9)
    throughput = boto["median"] / ours["median"]
    pairs = ""
    if r.get("pair_ratio_min") and r.get("pair_ratio_max"):
        pairs = f" (per-pair {1 / r['pair_ratio_max']:.3f} - {1 / r['pair_ratio_min']:.3f})"
    lines += [
        f"{ours['runs']} timed runs per side, {total / 2**30:.1f} GiB each. The goal is a minimum of the throughput "
        "ratio.",
        "",
        "| side | runs | median | min - max |",
        "| --- | --- | --- | --- |",
        _row("S3Store.download_prefix", ours),
        _row("boto3 download_file per object", boto),
        "",
        f"**Throughput ratio ours / boto3: {throughput:.3f}**{pairs}; time ratio of medians ours / boto3 "
        f"{ours['median'] / boto['median']:.3f}. Goal {verdict(throughput, goal, at_least=True)}. Throughput at the "
        f"medians: {total / 2**20 / ours['median']:.0f} MiB/s ours, {total / 2**20 / boto['median']:.0f} MiB/s boto3.",
        "",
    ]
    return lines
