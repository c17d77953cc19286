"""Credential serving: how long a container takes from its start to its first successful S3 call with role_arn's
credentials (served as ECS serves them), against the same container given access keys in its environment.

Both sides run the sagemaker-training toolkit image (boto3 inside, unchanged) with the same script: build an S3
client with the default credential chain, HEAD one object in a moto server, print the time. The clock runs from the
engine's StartedAt of the container to that time (same host clock), so interpreter and boto3 start-up count on both
sides and the difference is the credentials' cost: on the role side botocore's container provider asks our
endpoint on 169.254.170.2 (the role was assumed once before, through the AWS connection, as the operator does). The
role side uses ml_lifecycle's own ContainerAwsAccess, the code path of a job with role_arn. Runs alternate, role
first, after one warm-up each.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bench.common import LOGS, REPO, BenchError, env_vars, require_engine, summary

NAME = "credentials"
TITLE = "Credential serving: role_arn (container credentials endpoint) vs access keys in the environment"
DEFAULT_RUNS = 10
GOAL_MS = 50.0
BUCKET = "bench-credentials"
REGION = "us-east-1"
ROLE_ARN = "arn:aws:iam::123456789012:role/bench-role"
TOOLKIT_IMAGE = "ml-lifecycle-test/toolkit:test"
FIRST_S3_CALL = (
    "import time, boto3\n"
    "boto3.client('s3').head_object(Bucket='bench-credentials', Key='hello.txt')\n"
    "print('S3_OK', repr(time.time()))\n"
)


def _toolkit_image() -> str:
    """Build the toolkit image offline (as the tests do) unless it is there."""
    import docker

    client = docker.from_env()
    try:
        client.images.get(TOOLKIT_IMAGE)
        return TOOLKIT_IMAGE
    except docker.errors.ImageNotFound:
        pass
    subprocess.run(["bash", str(REPO / "scripts" / "fetch-toolkit-wheels.sh")], check=True)
    base = os.environ.get("BASE_IMAGE", "python:3.11-slim")
    context = REPO / "examples" / "containers" / "toolkit"
    client.images.build(path=str(context), tag=TOOLKIT_IMAGE, buildargs={"BASE_IMAGE": base}, rm=True)
    return TOOLKIT_IMAGE


def _first_call_s(client: Any, image: str, environment: dict[str, str]) -> float:
    """Run the script once; return seconds from the container's start to its first successful S3 call.

    :param client: a docker SDK client.
    :param image: the image.
    :param environment: the container's environment.
    """
    container = client.containers.run(
        image, entrypoint=["python3", "-c", FIRST_S3_CALL], environment=environment, detach=True
    )
    try:
        code = container.wait(timeout=120)["StatusCode"]
        output = container.logs().decode()
        container.reload()
        started = container.attrs["State"]["StartedAt"]
    finally:
        container.remove(force=True)
    if code != 0 or "S3_OK" not in output:
        raise BenchError(f"the container's S3 call failed (exit {code}): {output[-1500:]}")
    done_s = float(output.split("S3_OK", 1)[1].split()[0])
    # Docker writes nanoseconds; Python reads up to microseconds.
    whole, _, fraction = started.rstrip("Z").partition(".")
    started_s = datetime.fromisoformat(f"{whole}.{fraction[:6].ljust(6, '0')}+00:00").timestamp()
    return done_s - started_s


def run(runs: int | None, say: Callable[[str], None]) -> dict[str, Any]:
    """Measure both sides alternately; return their summaries and the difference of medians.

    :param runs: timed runs per side (default DEFAULT_RUNS).
    :param say: progress lines.
    """
    import boto3
    import docker

    runs = runs or DEFAULT_RUNS
    require_engine()
    image = _toolkit_image()
    sys.path.insert(0, str(REPO / "tests"))
    from support.moto import AWS_TEST_ENV, start_moto, stop

    from ml_lifecycle.compute.local.credentials.access import container_aws_access

    LOGS.mkdir(parents=True, exist_ok=True)
    server, endpoint = start_moto(LOGS / "credentials-moto.log", listen="0.0.0.0")
    connection = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"endpoint_url": endpoint, "region_name": REGION},
    }
    try:
        with env_vars(**AWS_TEST_ENV, AIRFLOW_CONN_AWS_DEFAULT=json.dumps(connection)):
            s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
            s3.create_bucket(Bucket=BUCKET)
            s3.put_object(Bucket=BUCKET, Key="hello.txt", Body=b"hello")
            access = container_aws_access(ROLE_ARN, "bench-credentials", "aws_default", say, uses_s3=True)
            client = docker.from_env()
            base = {"AWS_DEFAULT_REGION": REGION, **access.endpoint_environment}
            keys = {**base, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
            sides: dict[str, list[float]] = {"role": [], "keys": []}
            with access.serving() as role_environment:
                role = {**base, **role_environment}
                for index in range(runs + 1):  # the first pair warms up
                    for side, environment in (("role", role), ("keys", keys)):
                        seconds = _first_call_s(client, image, environment)
                        if index:
                            sides[side].append(seconds)
                    if index:
                        say(
                            f"bench: {NAME}: run {index}: role {sides['role'][-1]:.3f} s, keys {sides['keys'][-1]:.3f} s"
                        )
            renewals = access.session.renewals if access.session else 0
    finally:
        stop(server)
    role_s, keys_s = summary(sides["role"]), summary(sides["keys"])
    difference_ms = (role_s["median"] - keys_s["median"]) * 1000
    return {
        "runs_per_side": runs,
        "image": image,
        "role": role_s,
        "keys": keys_s,
        "difference_ms": difference_ms,
        "goal_ms": GOAL_MS,
        "role_assumed_times": renewals,
        "load_now": list(os.getloadavg()),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def summary_rows(result: dict[str, Any]) -> list[str]:
    """This benchmark's row of the Figures table: a difference in milliseconds against a goal, not a ratio.

    :param result: the benchmark's result.
    """
    from bench.report import s

    met = "met" if result["difference_ms"] <= result["goal_ms"] else "**not met**"
    return [
        f"| container start to first S3 call, role_arn credentials endpoint | {s(result['role']['median'])} | "
        f"{s(result['keys']['median'])} (keys in env) | **{result['difference_ms']:+.0f} ms** | "
        f"≤ +{result['goal_ms']:.0f} ms: {met} |"
    ]


def report_lines(doc: dict[str, Any], charts: dict[str, str]) -> list[str]:
    """This benchmark's section of REPORT.md.

    :param doc: the benchmark's JSON document.
    :param charts: chart paths by name (none drawn).
    """
    from bench.report import _row, section_head

    r = doc.get("result") or {}
    lines = section_head(doc, __doc__)
    if not r:
        return lines
    return [
        *lines,
        f"{r['runs_per_side']} timed runs per side, image `{r['image']}`.",
        "",
        "| side | runs | median | min - max |",
        "| --- | --- | --- | --- |",
        _row("role_arn: credentials endpoint on 169.254.170.2", r["role"]),
        _row("access keys in the environment", r["keys"]),
        "",
        f"**Difference of medians: {r['difference_ms']:+.1f} ms** (goal: within +{r['goal_ms']:.0f} ms). The role was "
        f"assumed {r['role_assumed_times']} time(s) in all.",
        "",
    ]
