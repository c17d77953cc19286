"""The SageMaker-compatible API against our native path, on the same jobs and the same endpoint.

1. Training: the same job (the example image, 100,000 rows in moto's S3, output to S3) run by the Amazon provider's
   SageMakerTrainingOperator (check_interval=1; print_log off: with it on, the provider's hook reads the job's status
   only every 30 s whatever check_interval says, on SageMaker too) against our API (``ml-lifecycle serve-api``, its own
   process), and by TrainOnEC2Operator (local) in this process. Runs alternate, after one warm-up each. The goal:
   the provider's path takes at most 1.05 x ours plus its check_interval (its poll).
2. InvokeEndpoint: one local endpoint created through the API; sequential POSTs of one row through the runtime path
   (``/endpoints/<name>/invocations``, SigV4-signed as boto3 signs each call, all before the timing: the signing is
   the client's and not timed) against the endpoint's own URL, in alternating blocks on kept-alive connections, the
   first 5 requests of each block untimed on both paths (a path's processes idle during the other's block). The
   goal: p99 added under 1 ms.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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
)

NAME = "sagemaker_api"
TITLE = "The SageMaker API (provider operator, InvokeEndpoint) against our native path, same job and endpoint"
DEFAULT_RUNS = 5
ROWS = 100_000
CHECK_INTERVAL_S = 1
TRAINING_GOAL = 1.05
ADDED_P99_GOAL_MS = 1.0
WARM_UP, BLOCK, BLOCKS, BLOCK_WARM_UP = 100, 205, 10, 5  # 2,000 timed requests per path
KEY, SECRET = "AKIDBENCHAPI", "bench-api-secret"
ROW = b"1,1,1,1,1,1,1,1\n"
ROLE_ARN = "arn:aws:iam::000000000000:role/SageMakerRole"


def _moto(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start moto (S3, STS) for the benchmark.

    :param work: where its log goes.
    """
    sys.path.insert(0, str(REPO / "tests"))
    from support.moto import start_moto

    return start_moto(work / "moto.log")


def _connections(moto_url: str, api_url: str) -> dict[str, str]:
    """Return the Airflow connections (as AIRFLOW_CONN_* values) of both sides: S3 in moto, SageMaker on our API.

    :param moto_url: moto's URL.
    :param api_url: our API's URL.
    """
    services = {"s3": moto_url, "sts": moto_url, "sagemaker": api_url, "logs": api_url}
    extra = {"region_name": "us-east-1", "service_config": {s: {"endpoint_url": u} for s, u in services.items()}}
    return {
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps({"conn_type": "aws", "login": KEY, "password": SECRET, "extra": extra}),
        "AIRFLOW_CONN_SAGEMAKER_API": json.dumps({"conn_type": "generic", "login": KEY, "password": SECRET}),
    }


def _serve_api(work: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``ml-lifecycle serve-api`` on a free port and wait until it answers.

    :param work: where its log goes.
    :param env: its environment.
    """
    from support.moto import answers, free_port

    port = free_port()
    cli = str(Path(sys.executable).with_name("ml-lifecycle"))
    with (work / "api.log").open("ab") as log:
        process = subprocess.Popen(
            [cli, "serve-api", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    deadline_s = time.monotonic() + 60
    while not answers(url + "/"):
        if process.poll() is not None or time.monotonic() > deadline_s:
            raise BenchError(f"ml-lifecycle serve-api did not start; see {work / 'api.log'}")
        time.sleep(0.1)
    return process, url


def _training_config(name: str) -> dict[str, Any]:
    """Return the CreateTrainingJob request both sides run.

    :param name: the job's name.
    """
    channel = {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bench/data/train"}}
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": BENCH_IMAGE, "TrainingInputMode": "File"},
        "RoleArn": ROLE_ARN,
        "HyperParameters": {"l2": "0.1"},
        "InputDataConfig": [{"ChannelName": "train", "DataSource": channel}],
        "OutputDataConfig": {"S3OutputPath": "s3://bench/out"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }


def _context(task_id: str) -> dict[str, Any]:
    """Return the bits of an Airflow context the operators read.

    :param task_id: the task id.
    """
    ti = type("Ti", (), {"dag_id": "bench", "task_id": task_id, "map_index": -1, "xcom_push": lambda *a, **k: None})()
    return {"ti": ti, "run_id": f"bench__{uuid.uuid4().hex[:12]}"}


def _provider_training(log: Path) -> float:
    """Run the job with the provider's operator against our API; return its seconds.

    :param log: where its output goes.
    """
    from airflow.providers.amazon.aws.operators.sagemaker import SageMakerTrainingOperator

    train = SageMakerTrainingOperator(
        task_id="train",
        config=_training_config(f"bench-api-{uuid.uuid4().hex[:8]}"),
        check_interval=CHECK_INTERVAL_S,
        print_log=False,  # with print_log the provider reads the job's status only every 30 s, whatever the interval
    )
    with output_to(log):
        started = time.perf_counter()
        result = train.execute(_context("train"))
        elapsed = time.perf_counter() - started
    if result["Training"]["TrainingJobStatus"] != "Completed":
        raise BenchError(f"the provider's training did not complete; see {log}")
    return elapsed


def _native_training(log: Path) -> float:
    """Run the same job with TrainOnEC2Operator (local); return its seconds.

    :param log: where its output goes.
    """
    from ml_lifecycle import TrainOnEC2Operator

    operator = TrainOnEC2Operator.from_sagemaker(_training_config("ignored"), task_id="train", poll_interval_s=0.5)
    with output_to(log):
        started = time.perf_counter()
        result = operator.execute(_context("train"))
        elapsed = time.perf_counter() - started
    if result.get("status") != "Completed":
        raise BenchError(f"the native training did not complete: {result}; see {log}")
    return elapsed


def _signed(api_url: str, endpoint: str, count: int) -> list[dict[str, str]]:
    """Return the headers of count InvokeEndpoint requests, signed now as boto3 signs them.

    :param api_url: our API's URL.
    :param endpoint: the endpoint's name.
    :param count: how many.
    """
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    signer = SigV4Auth(Credentials(KEY, SECRET), "sagemaker", "us-east-1")
    signed = []
    for _ in range(count):
        request = AWSRequest(
            method="POST",
            url=f"{api_url}/endpoints/{endpoint}/invocations",
            data=ROW,
            headers={"Content-Type": "text/csv", "Accept": "text/csv"},
        )
        signer.add_auth(request)
        signed.append(dict(request.headers.items()))
    return signed


def _timed(conn: http.client.HTTPConnection, path: str, headers: dict[str, str]) -> float:
    """POST one row; return its seconds.

    :param conn: a kept-alive connection.
    :param path: the request path.
    :param headers: the request's headers.
    """
    started = time.perf_counter()
    conn.request("POST", path, body=ROW, headers=headers)
    response = conn.getresponse()
    body = response.read()
    if response.status != 200:
        raise BenchError(f"POST {path} answered {response.status}: {body[:300]!r}")
    return time.perf_counter() - started


def _p(values: list[float], quantile: float) -> float:
    """Return a quantile of seconds, in milliseconds.

    :param values: the seconds.
    :param quantile: e.g. 0.99.
    """
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * quantile))] * 1e3


def _invocations(api_url: str, sagemaker: Any, say: Callable[[str], None]) -> dict[str, Any]:
    """Create an endpoint through the API and time both paths to it.

    :param api_url: our API's URL.
    :param sagemaker: a boto3 client of our API.
    :param say: progress lines.
    """
    from ml_lifecycle.compute import backend_for

    suffix = uuid.uuid4().hex[:8]
    model, config, endpoint = f"bench-model-{suffix}", f"bench-config-{suffix}", f"bench-endpoint-{suffix}"
    models = sagemaker.list_training_jobs(StatusEquals="Completed", MaxResults=1)["TrainingJobSummaries"]
    trained = sagemaker.describe_training_job(TrainingJobName=models[0]["TrainingJobName"])
    sagemaker.create_model(
        ModelName=model,
        PrimaryContainer={"Image": BENCH_IMAGE, "ModelDataUrl": trained["ModelArtifacts"]["S3ModelArtifacts"]},
    )
    variant = {
        "VariantName": "AllTraffic",
        "ModelName": model,
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
    }
    sagemaker.create_endpoint_config(EndpointConfigName=config, ProductionVariants=[variant])
    sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=config)
    sagemaker.get_waiter("endpoint_in_service").wait(
        EndpointName=endpoint, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )
    try:
        direct = urlsplit(backend_for("local", None).endpoints().describe(endpoint).url)
        api = urlsplit(api_url)
        conns = {
            "direct": http.client.HTTPConnection(direct.hostname, direct.port, timeout=30),
            "api": http.client.HTTPConnection(api.hostname, api.port, timeout=30),
        }
        paths = {"direct": "/invocations", "api": f"/endpoints/{endpoint}/invocations"}
        plain = {"Content-Type": "text/csv", "Accept": "text/csv"}
        times: dict[str, list[float]] = {"direct": [], "api": []}
        after_idle: dict[str, list[float]] = {"direct": [], "api": []}  # the untimed first ones, kept as context
        # Every request is signed before any is timed. The paths alternate in blocks; the first BLOCK_WARM_UP
        # requests of each block are not timed, on either path: a path's processes idle while the other's block
        # runs, and on this machine the first request after an idle pause pays the wake-up of each process on its
        # path (a sequential client keeps them awake).
        signed = iter(_signed(api_url, endpoint, WARM_UP + BLOCKS * BLOCK))
        for side in times:  # connections, the API's endpoint lookup
            for _ in range(WARM_UP):
                _timed(conns[side], paths[side], next(signed) if side == "api" else plain)
        for _ in range(BLOCKS):
            for side in times:
                for index in range(BLOCK):
                    took_s = _timed(conns[side], paths[side], next(signed) if side == "api" else plain)
                    (times if index >= BLOCK_WARM_UP else after_idle)[side].append(took_s)
        for conn in conns.values():
            conn.close()
    finally:
        sagemaker.delete_endpoint(EndpointName=endpoint)
    out = {side: {"requests": len(v), "p50_ms": _p(v, 0.5), "p99_ms": _p(v, 0.99)} for side, v in times.items()}
    out["added_p50_ms"] = out["api"]["p50_ms"] - out["direct"]["p50_ms"]
    out["added_p99_ms"] = out["api"]["p99_ms"] - out["direct"]["p99_ms"]
    # Context: p99 counting the first requests of each block too (after the path idled through the other's block).
    every = {side: _p(times[side] + after_idle[side], 0.99) for side in times}
    out["with_block_starts"] = {"p99_ms": every, "added_p99_ms": every["api"] - every["direct"]}
    out["block_starts_median_ms"] = {side: _p(v, 0.5) for side, v in after_idle.items()}
    say(
        f"bench: {NAME}: invocations p50/p99: API {out['api']['p50_ms']:.3f}/{out['api']['p99_ms']:.3f} ms, "
        f"direct {out['direct']['p50_ms']:.3f}/{out['direct']['p99_ms']:.3f} ms"
    )
    return out


def run(runs: int | None, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure both comparisons.

    :param runs: timed training runs per side (default DEFAULT_RUNS).
    :param say: progress lines.
    """
    import boto3

    runs = runs or DEFAULT_RUNS
    ensure_bench_image()
    data = ensure_data(ROWS)
    work = fresh_dir(RESULTS / NAME)
    logs = fresh_dir(LOGS / NAME)
    moto, moto_url = _moto(work)
    api = None
    try:
        s3 = boto3.client(
            "s3", endpoint_url=moto_url, region_name="us-east-1", aws_access_key_id=KEY, aws_secret_access_key=SECRET
        )
        s3.create_bucket(Bucket="bench")
        for path in sorted((data / "train").iterdir()):
            s3.upload_file(str(path), "bench", f"data/train/{path.name}")
        home = str(work / "ml-home")
        env = {
            "AWS_ACCESS_KEY_ID": KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_DEFAULT_REGION": "us-east-1",
            "ML_LIFECYCLE_HOME": home,
            "ML_LIFECYCLE_API_STATE_ROOT": "s3://bench/sagemaker-api",
            "ML_LIFECYCLE_API_ROLE_ARNS": ROLE_ARN,
        }
        api, api_url = _serve_api(work, {**os.environ, **env, **_connections(moto_url, "http://unused")})
        with env_vars(**env, **_connections(moto_url, api_url)):
            sides: dict[str, list[float]] = {"provider": [], "native": []}
            for index in range(runs + 1):
                provider_s = _provider_training(logs / f"provider-{index}.log")
                native_s = _native_training(logs / f"native-{index}.log")
                if index:
                    sides["provider"].append(provider_s)
                    sides["native"].append(native_s)
                    say(
                        f"bench: {NAME}: run {index}: provider via the API {provider_s:.2f} s, TrainOnEC2 {native_s:.2f} s"
                    )
            sagemaker = boto3.client("sagemaker", endpoint_url=api_url, region_name="us-east-1")
            invocations = _invocations(api_url, sagemaker, say)
    finally:
        for process in (api, moto):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
    provider, native = summary(sides["provider"]), summary(sides["native"])
    ratio = ratio_of(provider, native)
    allowed = TRAINING_GOAL * native["median"] + CHECK_INTERVAL_S
    return {
        "runs_per_side": runs,
        "rows": ROWS,
        "provider_via_api": provider,
        "native": native,
        **ratio,
        "allowed_s": allowed,
        "invocations": invocations,
        "figures": [
            {
                "label": f"a training job through the provider's SageMakerTrainingOperator and our API (check_interval "
                f"{CHECK_INTERVAL_S} s) vs TrainOnEC2Operator, same job; goal: at most 1.05 x plus the check interval "
                f"({allowed:.2f} s)",
                "ours_s": provider["median"],
                "baseline_s": native["median"],
                "baseline": "TrainOnEC2Operator",
                "ratio": ratio["ratio"],
                "goal": allowed / native["median"],
            },
        ],
        "notes": f"InvokeEndpoint p99 added {invocations['added_p99_ms']:.3f} ms (goal under {ADDED_P99_GOAL_MS} ms)",
    }


def summary_rows(result: dict[str, Any]) -> list[str]:
    """The figures table's rows: the training ratio and the p99 the runtime path adds.

    :param result: the benchmark's result.
    """
    from bench.report import s, verdict

    provider, native, invocations = result["provider_via_api"], result["native"], result["invocations"]
    goal = result["allowed_s"] / native["median"]
    added = invocations["added_p99_ms"]
    return [
        f"| training through the provider's SageMakerTrainingOperator and our API vs TrainOnEC2Operator, same job "
        f"(goal: 1.05 x plus its {CHECK_INTERVAL_S} s check_interval) | {s(provider['median'])} | "
        f"{s(native['median'])} (TrainOnEC2Operator) | **{result['ratio']:.3f}** | {verdict(result['ratio'], goal)} |",
        f"| InvokeEndpoint through the API's runtime path vs the endpoint's own URL: p99 added | "
        f"{invocations['api']['p99_ms']:.3f} ms | {invocations['direct']['p99_ms']:.3f} ms (the endpoint's URL) | "
        f"**+{added:.3f} ms** | {'met' if added < ADDED_P99_GOAL_MS else 'not met'} (under {ADDED_P99_GOAL_MS:g} ms) |",
    ]


def report_lines(doc: dict[str, Any], charts: dict[str, str]) -> list[str]:
    """The benchmark's section.

    :param doc: the benchmark's JSON document.
    :param charts: chart paths (none here).
    """
    from bench.report import s, section_head

    r = doc["result"]
    invocations = r["invocations"]
    return [
        *section_head(doc, __doc__),
        f"Training, {r['runs_per_side']} runs per side, {r['rows']:,} rows: the provider's operator through the API "
        f"{s(r['provider_via_api']['median'])} (min {s(r['provider_via_api']['min'])}, max "
        f"{s(r['provider_via_api']['max'])}); TrainOnEC2Operator {s(r['native']['median'])} (min "
        f"{s(r['native']['min'])}, max {s(r['native']['max'])}); ratio {r['ratio']:.3f}, allowed "
        f"{s(r['allowed_s'])}.",
        "",
        f"InvokeEndpoint, {invocations['api']['requests']} requests per path: p50/p99 through the API "
        f"{invocations['api']['p50_ms']:.3f}/{invocations['api']['p99_ms']:.3f} ms, the endpoint's own URL "
        f"{invocations['direct']['p50_ms']:.3f}/{invocations['direct']['p99_ms']:.3f} ms; added p50 "
        f"{invocations['added_p50_ms']:.3f} ms, p99 {invocations['added_p99_ms']:.3f} ms.",
        "",
        *_block_start_lines(invocations),
    ]


def _block_start_lines(invocations: dict[str, Any]) -> list[str]:
    """The context line on the untimed first requests of each block (absent from results before they were kept).

    :param invocations: the InvokeEndpoint result.
    """
    every = invocations.get("with_block_starts")
    if every is None:
        return []
    starts = invocations["block_starts_median_ms"]
    return [
        f"Context, no goal: the first {BLOCK_WARM_UP} requests of each block (after the path idled through the "
        f"other's block) took a median {starts['api']:.3f} ms through the API and {starts['direct']:.3f} ms direct; "
        f"counting them, p99 is {every['p99_ms']['api']:.3f} ms through the API and {every['p99_ms']['direct']:.3f} ms "
        f"direct, {every['added_p99_ms']:+.3f} ms added. A client that pauses between requests meets this wake-up on "
        "every request: it is paid once per process on the path, and the API adds one.",
        "",
    ]
