"""Staging a 2 GB channel from S3 (a moto server) against boto3's own download_file of the same objects."""

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
