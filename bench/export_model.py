"""Exporting a 1 GiB model folder as model.tar.gz to S3 (a moto server): our training export vs tar + boto3.

Ours is the code a training job runs when its container ends (ArchiveExport.export in
ml_lifecycle.compute.local.training.export): ``archive.merged_files`` over the model folder, then ``upload_archive``, which
packs with ``archive.write_tar_gz`` into a scratch folder, uploads with ``S3Store.upload_file`` and removes the
scratch folder. (ExportArtifactsOperator only copies an existing model.tar.gz into the registry; it packs nothing.)
The baseline is ``tar czf model.tar.gz -C <folder> .`` followed by boto3's ``upload_file`` with its default transfer
settings, and removing the archive. Each side runs in a fresh python child (which also gives its peak RSS and CPU
time); both clocks start after the imports and the S3 client are ready. Alternated, after one warm-up each. Every
uploaded archive is streamed back and checked: the same files with the same sizes and sha256 as the folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import RESULTS, BenchError, fresh_dir, ratio_of, summary
from bench.model_folder import TOTAL_BYTES, make_model_folder

NAME = "export_model"
TITLE = "Exporting a 1 GiB model folder to S3 (moto): our training export vs tar czf + boto3 upload_file"
DEFAULT_RUNS = 3
BUCKET = "bench-export"
REGION = "us-east-1"

_CLIENT = """
import json, os, resource, sys, time
import boto3
endpoint, model_dir, scratch, bucket, key = sys.argv[1:6]
client = boto3.session.Session().client("s3", endpoint_url=endpoint, region_name="us-east-1")
def usage(started, steps):
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"seconds": time.perf_counter() - started, "steps": steps, "peak_rss_mb": me.ru_maxrss / 1024,
        "children_peak_rss_mb": kids.ru_maxrss / 1024,
        "cpu_s": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime}))
"""

# Ours: exactly what ArchiveExport.export does for the model; write_tar_gz is wrapped only to time the packing.
OURS_RUN = (
    _CLIENT
    + """
from pathlib import Path
from ml_lifecycle.compute.local.serving import archive
from ml_lifecycle.compute.local.training.export import upload_archive
from ml_lifecycle.core import contract
from ml_lifecycle.core.uris import parse_uri
from ml_lifecycle.stores.s3_store import S3Store
store = S3Store(lambda: client)
store.client
pack = {}
write_tar_gz = archive.write_tar_gz
def timed(files, path):
    t = time.perf_counter()
    size = write_tar_gz(files, path)
    pack["pack_s"], pack["archive_bytes"] = time.perf_counter() - t, size
    return size
archive.write_tar_gz = timed
out_uri = parse_uri(f"s3://{bucket}/{key.rsplit('/output/', 1)[0]}")
started = time.perf_counter()
files = archive.merged_files([model_dir])
upload_archive(store, files, Path(scratch), out_uri, contract.MODEL_ARCHIVE)
usage(started, pack)
"""
)

BASELINE_RUN = (
    _CLIENT
    + """
import subprocess
path = os.path.join(scratch, "model.tar.gz")
started = time.perf_counter()
subprocess.run(["tar", "czf", path, "-C", model_dir, "."], check=True)
packed = time.perf_counter()
size = os.path.getsize(path)
client.upload_file(path, bucket, key)
os.remove(path)
usage(started, {"pack_s": packed - started, "archive_bytes": size})
"""
)


def _side(script: str, endpoint: str, model_dir: Path, scratch: Path, key: str) -> dict[str, Any]:
    """Run one side in a fresh python and return what it measured.

    :param script: OURS_RUN or BASELINE_RUN.
    :param endpoint: the moto server's URL.
    :param model_dir: the model folder.
    :param scratch: an empty folder for the archive.
    :param key: the object key of the uploaded model.tar.gz.
    """
    args = [sys.executable, "-c", script, endpoint, str(model_dir), str(scratch), BUCKET, key]
    done = subprocess.run(args, capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0:
        raise BenchError(f"export to s3://{BUCKET}/{key} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.splitlines()[-1])
    result["upload_s"] = result["seconds"] - result["steps"]["pack_s"]
    return result


def _check(client: Any, key: str, expected: dict[str, tuple[int, str]]) -> int:
    """Stream the uploaded archive back and compare its files (names, sizes, sha256) to the folder's; return its size.

    :param client: a boto3 S3 client.
    :param key: the object key.
    :param expected: relative path -> (size, sha256) of the model folder.
    """
    head = client.head_object(Bucket=BUCKET, Key=key)
    body = client.get_object(Bucket=BUCKET, Key=key)["Body"]
    found: dict[str, tuple[int, str]] = {}
    with tarfile.open(fileobj=body, mode="r|gz") as tar:
        for member in tar:
            if member.isdir():
                continue
            name = member.name.removeprefix("./")
            reader = tar.extractfile(member) if member.isfile() else None
            if reader is None:
                raise BenchError(f"s3://{BUCKET}/{key}: {name} is not a regular file")
            digest = hashlib.sha256()
            while chunk := reader.read(8 << 20):
                digest.update(chunk)
            found[name] = (member.size, digest.hexdigest())
    if found != expected:
        wrong = sorted(set(found.items()) ^ set(expected.items()))[:5]
        raise BenchError(f"s3://{BUCKET}/{key} does not hold the model folder; differences: {wrong}")
    client.delete_object(Bucket=BUCKET, Key=key)
    return int(head["ContentLength"])


def _stats(runs: list[dict[str, Any]], field: str) -> dict[str, Any]:
    """Summary of one measured field over the timed runs.

    :param runs: what each run measured.
    :param field: seconds, upload_s, cpu_s or peak_rss_mb (or pack_s, in steps).
    """
    return summary([r[field] if field in r else r["steps"][field] for r in runs])


def _loop(
    endpoint: str, work: Path, runs: int, expected: dict[str, tuple[int, str]], say: Callable[[str], None]
) -> dict[str, list[dict[str, Any]]]:
    """Alternate both sides runs + 1 times (the first is a warm-up) and check every upload.

    :param endpoint: the moto server's URL.
    :param work: the benchmark's folder (holds model/).
    :param runs: timed runs per side.
    :param expected: relative path -> (size, sha256) of the model folder.
    :param say: progress output.
    """
    import boto3

    client = boto3.session.Session().client("s3", endpoint_url=endpoint, region_name=REGION)
    client.create_bucket(Bucket=BUCKET)
    sides: dict[str, list[dict[str, Any]]] = {"ours": [], "baseline": []}
    for index in range(runs + 1):
        for side, script in (("ours", OURS_RUN), ("baseline", BASELINE_RUN)):
            key = f"jobs/{side}-{index}/output/model.tar.gz"
            result = _side(script, endpoint, work / "model", fresh_dir(work / "scratch"), key)
            result["object_bytes"] = _check(client, key, expected)
            if index:
                sides[side].append(result)
            say(
                f"  run {index or 'warm-up'}: {side} {result['seconds']:.2f} s (pack {result['steps']['pack_s']:.2f} s)"
            )
    return sides


def run(runs: int | None, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Generate the model folder, start moto, time both exports alternately; return the results.

    :param runs: timed runs per side (default 3).
    :param say: progress output.
    """
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from support.moto import start_moto, stop

    runs = runs or DEFAULT_RUNS
    work = fresh_dir(RESULTS / "work" / NAME)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    started = time.perf_counter()
    expected = make_model_folder(work / "model")
    say(
        f"  generated a {TOTAL_BYTES >> 20} MiB model folder ({len(expected)} files) in {time.perf_counter() - started:.1f} s"
    )
    server, endpoint = start_moto(work / "moto.log")
    try:
        sides = _loop(endpoint, work, runs, expected, say)
    finally:
        stop(server)
        shutil.rmtree(work, ignore_errors=True)
    ours, base = _stats(sides["ours"], "seconds"), _stats(sides["baseline"], "seconds")
    detail = {
        side: {f: _stats(sides[side], f) for f in ("seconds", "pack_s", "upload_s", "cpu_s", "peak_rss_mb")}
        for side in sides
    }
    for side in sides:
        detail[side]["archive_bytes"] = statistics.median(r["steps"]["archive_bytes"] for r in sides[side])
        detail[side]["children_peak_rss_mb"] = max(r["children_peak_rss_mb"] for r in sides[side])
    return {
        "model_bytes": TOTAL_BYTES,
        "files": {name: size for name, (size, _sha) in expected.items()},
        "ours_path": "ml_lifecycle.compute.local.training.export: archive.merged_files + upload_archive "
        "(archive.write_tar_gz + S3Store.upload_file), as ArchiveExport.export runs it when a training job ends",
        "baseline_path": "tar czf model.tar.gz -C <folder> . && boto3 client.upload_file (default TransferConfig)",
        "runs_per_side": runs,
        "ours": ours,
        "baseline": base,
        **ratio_of(ours, base),
        "detail": detail,
        "verified": "every upload streamed back: same file names, sizes and sha256 as the folder",
        "figures": [
            {
                "label": "export a 1 GiB model folder: tar.gz + S3 upload (moto), time",
                "ours_s": ours["median"],
                "baseline_s": base["median"],
                "baseline": "`tar czf` + boto3 upload_file",
                "ratio": ours["median"] / base["median"],
                "goal": None,
            }
        ],
    }


def report_lines(doc: dict[str, Any], charts: dict[str, str]) -> list[str]:
    """This benchmark's section of REPORT.md.

    :param doc: the benchmark's JSON document.
    :param charts: chart paths by name (none drawn for this benchmark).
    """
    from bench.report import s, section_head, spread

    r = doc["result"]
    lines = section_head(doc, __doc__)
    lines += [
        f"Ours: {r['ours_path']}. Baseline: `{r['baseline_path']}`. {r['runs_per_side']} timed runs per side. "
        f"Checked: {r['verified']}.",
        "",
        "| side | runs | total (median) | min - max | pack | upload | CPU (with children) | peak RSS | archive |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for side, label in (("ours", "ours (upload_archive)"), ("baseline", "tar czf + upload_file")):
        d = r["detail"][side]
        lines.append(
            f"| {label} | {d['seconds']['runs']} | {s(d['seconds']['median'])} | {spread(d['seconds'])} | "
            f"{s(d['pack_s']['median'])} | {s(d['upload_s']['median'])} | {s(d['cpu_s']['median'])} | "
            f"{d['peak_rss_mb']['max']:.0f} MB | {d['archive_bytes'] / 2**20:.0f} MiB |"
        )
    cpu = r["detail"]["ours"]["cpu_s"]["median"] / r["detail"]["baseline"]["cpu_s"]["median"]
    lines += [
        "",
        f"**Ratio of medians ours / baseline: {r['ratio']:.3f}** (per-run ratios {r['pair_ratio_min']:.3f} - "
        f"{r['pair_ratio_max']:.3f}); CPU time ratio {cpu:.3f} (less sensitive to other load). Peak RSS is the "
        "python's own (tar and gzip of the baseline peaked at "
        f"{r['detail']['baseline']['children_peak_rss_mb']:.0f} MB).",
        "",
        "The model folder: " + ", ".join(f"{name} ({size / 2**20:.1f} MiB)" for name, size in r["files"].items()) + ".",
        "",
    ]
    return lines
