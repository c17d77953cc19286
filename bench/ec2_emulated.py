"""compute="ec2" in the emulation (moto server + user data run as cloud-init would) against compute="local".

Both sides run TrainOnEC2Operator.execute() on the same image (pushed to the local registry, handed on by digest),
the same channel in moto's S3 and the same output prefix there, alternated after one warm-up each. The EC2 side
includes everything the operator and the instance do: preflight (AMI from SSM, instance profile), staging the agent
bundle and the job document, the job's security group, run_instances, the user data (deadline, fetching the agent
with a SigV4 GET, unpacking it), the agent (IMDSv2 identity, peers, image pull, staging from S3, the container,
CloudWatch Logs, export, record), the shutdown, and the operator's clean-up. The emulated instance boots at once,
so the figure is our path's overhead, not EC2's boot time. "Launch to container start" runs from the
run_instances call to the record's Training transition.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bench.common import (
    BENCH_IMAGE,
    LOGS,
    REPO,
    RESULTS,
    BenchError,
    ensure_bench_image,
    ensure_data,
    env_vars,
    fresh_dir,
    output_to,
    ratio_of,
    summary,
    tail,
)

NAME = "ec2_emulated"
TITLE = 'TrainOnEC2Operator compute="ec2" (emulated instances on moto) vs compute="local", same job'
DEFAULT_RUNS = 3
ROWS = 1_000_000
BUCKET = "bench-ec2"
REGION = "us-east-1"
PROFILE = "ml-lifecycle-instance"
REPOSITORY = "127.0.0.1:5000/ml-lifecycle/linear-bench"
POLL_INTERVAL_S = 1.0


def _push_image() -> str:
    """Push the benchmark image to the local registry and return it by digest."""
    import docker

    client = docker.from_env()
    client.images.get(BENCH_IMAGE).tag(REPOSITORY, tag="bench")
    for line in client.images.push(REPOSITORY, tag="bench", stream=True, decode=True):
        if "error" in line:
            raise BenchError(
                f"push to the local registry failed: {line['error']} (run `bash scripts/bootstrap.sh all`)"
            )
    digests = client.images.get(f"{REPOSITORY}:bench").attrs["RepoDigests"]
    return next(d for d in digests if d.startswith(REPOSITORY))


@contextmanager
def _launch_clock(launches: list[float]) -> Iterator[None]:
    """Note the time of every run_instances call made through Ec2Fleet.launch.

    :param launches: receives time.time() at each call.
    """
    from ml_lifecycle.compute.ec2.fleet import Ec2Fleet

    original = Ec2Fleet.launch

    def timed(self: Ec2Fleet, *args: Any, **kwargs: Any) -> Any:
        launches.append(time.time())
        return original(self, *args, **kwargs)

    Ec2Fleet.launch = timed  # type: ignore[method-assign]
    try:
        yield
    finally:
        Ec2Fleet.launch = original  # type: ignore[method-assign]


def _execute(compute: str, image: str, log_path: Path) -> dict[str, Any]:
    """Run one training job and return its result and wall time.

    :param compute: ``local`` or ``ec2``.
    :param image: the image by digest.
    :param log_path: where the task's output goes.
    """
    from ml_lifecycle import TrainOnEC2Operator

    operator = TrainOnEC2Operator(
        task_id="train",
        compute=compute,
        image_uri=image,
        channels={"train": f"s3://{BUCKET}/data/train"},
        output_path=f"s3://{BUCKET}/training",
        hyperparameters={"l2": "0.01"},
        instance_type="ml.m5.large",
        ec2_settings={"instance_profile": PROFILE},
        poll_interval_s=POLL_INTERVAL_S,
    )
    context = {
        "ti": SimpleNamespace(dag_id="bench", task_id="train", map_index=-1),
        "run_id": f"bench-{uuid.uuid4().hex[:12]}",
    }
    with output_to(log_path):
        started = time.perf_counter()
        try:
            result = operator.execute(context)
        except Exception as err:
            raise BenchError(f"{compute}: TrainOnEC2Operator.execute failed: {err}\n{tail(log_path)}") from err
        elapsed = time.perf_counter() - started
    if result.get("status") != "Completed":
        raise BenchError(f"{compute}: the job ended {result}")
    return {"seconds": elapsed, "result": result}


def _training_started(s3: Any, job_name: str) -> float:
    """Return when the job's record entered Training (epoch seconds).

    :param s3: a boto3 S3 client of moto.
    :param job_name: the job's name.
    """
    from datetime import datetime

    record = json.loads(s3.get_object(Bucket=BUCKET, Key=f"training/{job_name}/status.json")["Body"].read())
    when = next(t for s, t in record["transitions"] if s == "Training")
    return datetime.fromisoformat(when).timestamp()


def run(runs: int | None, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Time both sides alternately after a warm-up each.

    :param runs: timed runs per side (default 3).
    :param say: progress output.
    """
    import boto3
    import docker

    sys.path.insert(0, str(REPO / "tests"))
    from support.ec2_emulator import Ec2Emulator
    from support.moto import start_moto, stop

    runs = runs or DEFAULT_RUNS
    work = fresh_dir(RESULTS / "work" / NAME)
    ensure_bench_image()
    image = _push_image()
    data = ensure_data(ROWS)
    credentials = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}
    with env_vars(**credentials):
        server, endpoint = start_moto(work / "moto.log")
        connection = {"conn_type": "aws", "extra": {"endpoint_url": endpoint, "region_name": REGION}}
        try:
            with env_vars(AIRFLOW_CONN_AWS_DEFAULT=json.dumps(connection), ML_LIFECYCLE_HOME=str(work / "home")):
                clients = {n: boto3.client(n, endpoint_url=endpoint, region_name=REGION) for n in ("s3", "ec2", "iam")}
                clients["s3"].create_bucket(Bucket=BUCKET)
                clients["iam"].create_instance_profile(InstanceProfileName=PROFILE)
                for path in sorted((data / "train").iterdir()):
                    clients["s3"].upload_file(str(path), BUCKET, f"data/train/{path.name}")
                say(f"bench: {NAME}: data ({ROWS:,} rows) in moto S3 at {endpoint}; image {image}")
                launches: list[float] = []
                sides: dict[str, list[float]] = {"ec2": [], "local": []}
                to_container: list[float] = []
                emulator = Ec2Emulator(docker.from_env(), clients["ec2"], endpoint, work / "ec2")
                with emulator, _launch_clock(launches):
                    for index in range(runs + 1):
                        for compute in ("ec2", "local"):
                            done = _execute(compute, image, LOGS / f"{NAME}-{compute}.log")
                            if compute == "ec2":
                                started = _training_started(clients["s3"], done["result"]["job_name"])
                                launch_to_container = started - launches[-1]
                            if index:
                                sides[compute].append(done["seconds"])
                                if compute == "ec2":
                                    to_container.append(launch_to_container)
                            say(f"bench: {NAME}: run {index} {compute}: {done['seconds']:.2f} s")
                if emulator.errors:
                    raise BenchError(f"the emulator reported errors: {emulator.errors}")
        finally:
            stop(server)
    ec2, local = summary(sides["ec2"]), summary(sides["local"])
    overhead = ratio_of(ec2, local)
    return {
        "runs_per_side": runs,
        "rows": ROWS,
        "poll_interval_s": POLL_INTERVAL_S,
        "ec2_emulated": ec2,
        "local": local,
        "ratio": overhead["ratio"],
        "launch_to_container_start_s": summary(to_container),
        "load_now": list(os.getloadavg()),
        "figures": [
            {
                "label": "TrainOnEC2 compute=ec2, emulated instance (~5 s job, S3 in and out)",
                "ours_s": ec2["median"],
                "baseline_s": local["median"],
                "baseline": 'compute="local"',
                "ratio": overhead["ratio"],
                "goal": None,
            },
        ],
    }


# ------------------------------------------------------------------------------------------------ report
def report_lines(doc: dict[str, Any], charts: dict[str, str]) -> list[str]:
    """This benchmark's section of REPORT.md (its Figures row comes from the result's ``figures``; no goal).

    :param doc: the benchmark's JSON document.
    :param charts: chart paths by name (none drawn for this benchmark).
    """
    from bench.report import _row, section_head

    r = doc["result"]
    ec2, local = r.get("ec2_emulated"), r.get("local")
    lines = section_head(doc, __doc__)
    if not ec2 or not local:
        return lines
    lines += [
        f"{r.get('runs_per_side', ec2['runs'])} timed runs per side, {r.get('rows', ROWS):,} rows (a ~5 s job), the "
        f"operator polling every {r.get('poll_interval_s', POLL_INTERVAL_S):g} s.",
        "",
        "| side | runs | median | min - max |",
        "| --- | --- | --- | --- |",
        _row('compute="ec2", emulated instance', ec2),
        _row('compute="local"', local),
    ]
    launch = r.get("launch_to_container_start_s")
    if launch:
        lines.append(_row('launch to container start (compute="ec2"; run_instances until Training)', launch))
    paired = ratio_of(ec2, local)
    ratio = r.get("ratio", paired["ratio"])
    pairs = (
        f" (per-pair ratios {paired['pair_ratio_min']:.3f} - {paired['pair_ratio_max']:.3f})"
        if "pair_ratio_min" in paired
        else ""
    )
    lines += [
        "",
        f"**Ratio of medians ec2 / local: {ratio:.3f}**{pairs}; overhead "
        f"{(ec2['median'] - local['median']) * 1000:+.0f} ms. No goal (context only).",
        "",
    ]
    return lines
