"""Training overhead on 1 and 3 hosts: TrainOnEC2Operator (local) against the same containers started by hand.

Ours: ``TrainOnEC2Operator(instance_count=N, compute='local').execute(context)`` in this process with a fresh
run_id, a ``file://`` train channel and output path; it includes staging, starting the hosts' containers (and their
network), log streaming, packing the model and output, the job record and the cleanup. Baseline: the same hosts
started with the docker CLI: each host's /opt/ml config written by hand (hyperparameters, input data and resource
config, as SageMaker would), ``docker network create`` when there are several hosts, ``docker run -d`` of each host
with its hostname (and its network alias on that network), then ``docker wait`` for all of them; the clock stops
when every host has exited (removing the containers and the network is outside it). Both sides run the example
linear image with hyperparameters ``{"l2": "0.01"}`` and alternate after one warm-up pair per case and host count.
"""

from __future__ import annotations

import json
import subprocess
import time
import types
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import (
    BENCH_IMAGE,
    RESULTS,
    BenchError,
    docker,
    ensure_bench_image,
    ensure_data,
    fresh_dir,
    ratio_of,
    summary,
)

NAME = "train_hosts"
TITLE = "Training overhead on 1 and 3 hosts: TrainOnEC2Operator (local) vs containers started by hand"
DEFAULT_RUNS = 5
CASES = (
    {"label": "~5 s job", "rows": 1_000_000, "goal": 1.10},
    {"label": "sub-second job", "rows": 100_000, "goal": 1.3},
)
HOST_COUNTS = (1, 3)
INSTANCE_TYPE = "ml.m5.large"


def _layout(root: Path, host: str, hosts: list[str]) -> None:
    """Write one host's /opt/ml config by hand, as SageMaker would.

    :param root: the host's folder.
    :param host: the host name.
    :param hosts: every host.
    """
    config = root / "input" / "config"
    config.mkdir(parents=True)
    (root / "model").mkdir()
    (root / "output").mkdir()
    channel = {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None"}
    group = {"instance_group_name": "homogeneousCluster", "instance_type": INSTANCE_TYPE, "hosts": hosts}
    (config / "hyperparameters.json").write_text(json.dumps({"l2": "0.01"}))
    (config / "inputdataconfig.json").write_text(json.dumps({"train": channel}))
    (config / "resourceconfig.json").write_text(
        json.dumps(
            {
                "current_host": host,
                "hosts": hosts,
                "current_instance_type": INSTANCE_TYPE,
                "current_group_name": "homogeneousCluster",
                "instance_groups": [group],
                "network_interface_name": "eth0",
            }
        )
    )


def _by_hand(train_dir: Path, work: Path, host_count: int) -> float:
    """Start the hosts with the docker CLI (a network when several), wait for all, remove them; return seconds.

    :param train_dir: the training data.
    :param work: a scratch folder.
    :param host_count: how many hosts.
    """
    hosts = [f"algo-{i}" for i in range(1, host_count + 1)]
    tag = uuid.uuid4().hex[:8]
    network = f"bench-{tag}"
    started = time.perf_counter()
    if host_count > 1:
        docker("network", "create", network)
    names = []
    for host in hosts:
        root = work / host
        _layout(root, host, hosts)
        name = f"bench-{tag}-{host}"
        names.append(name)
        command = ["run", "-d", "--name", name, "--hostname", host]
        if host_count > 1:
            command += ["--network", network, "--network-alias", host]
        command += [
            "-v", f"{root / 'input' / 'config'}:/opt/ml/input/config:ro",
            "-v", f"{train_dir}:/opt/ml/input/data/train:ro",
            "-v", f"{root / 'model'}:/opt/ml/model",
            "-v", f"{root / 'output'}:/opt/ml/output",
            BENCH_IMAGE, "train",
        ]  # fmt: skip
        docker(*command)
    codes = docker("wait", *names, timeout=600).stdout.split()
    elapsed = time.perf_counter() - started
    docker("rm", "-f", *names, check=False)
    if host_count > 1:
        docker("network", "rm", network, check=False)
    if any(code != "0" for code in codes):
        raise BenchError(f"the hand-started hosts exited with {codes}")
    return elapsed


def _ours(train_dir: Path, out_dir: Path, host_count: int) -> float:
    """Run TrainOnEC2Operator.execute() in this process and return seconds.

    :param train_dir: the training data.
    :param out_dir: the output folder.
    :param host_count: how many hosts.
    """
    from ml_lifecycle import TrainOnEC2Operator

    operator = TrainOnEC2Operator(
        task_id="train",
        image_uri=BENCH_IMAGE,
        channels={"train": f"file://{train_dir}"},
        output_path=f"file://{out_dir}",
        hyperparameters={"l2": "0.01"},
        instance_type=INSTANCE_TYPE,
        instance_count=host_count,
    )
    context = {
        "ti": types.SimpleNamespace(dag_id="bench", task_id="train", map_index=-1),
        "run_id": f"bench-{uuid.uuid4().hex}",
    }
    started = time.perf_counter()
    result = operator.execute(context)
    elapsed = time.perf_counter() - started
    if result.get("status") != "Completed":
        raise BenchError(f"TrainOnEC2Operator returned {result}")
    return elapsed


def run(runs: int | None, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure every case on 1 and 3 hosts, alternating the two sides.

    :param runs: timed runs per side (default 5).
    :param say: progress output.
    """
    runs = runs or DEFAULT_RUNS
    ensure_bench_image()
    work = fresh_dir(RESULTS / "work" / NAME)
    figures = []
    cases = []
    for case in CASES:
        train_dir = ensure_data(case["rows"]) / "train"
        for host_count in HOST_COUNTS:
            ours: list[float] = []
            by_hand: list[float] = []
            for index in range(runs + 1):  # the first pair warms up and is not kept
                a = _ours(train_dir, fresh_dir(work / "out"), host_count)
                b = _by_hand(train_dir, fresh_dir(work / "hand"), host_count)
                if index:
                    ours.append(a)
                    by_hand.append(b)
            ours_stats, base_stats = summary(ours), summary(by_hand)
            ratio = ratio_of(ours_stats, base_stats)
            label = f"training overhead, {case['label']}, {host_count} host(s)"
            say(f"bench: {NAME}: {label}: ours {ours_stats['median']:.3f} s, by hand {base_stats['median']:.3f} s, "
                f"ratio {ratio['ratio']:.3f}")  # fmt: skip
            cases.append({"label": label, "ours": ours_stats, "baseline": base_stats, **ratio})
            figures.append(
                {
                    "label": label,
                    "ours_s": ours_stats["median"],
                    "baseline_s": base_stats["median"],
                    "baseline": "containers started with the docker CLI",
                    "ratio": ratio["ratio"],
                    "goal": case["goal"],
                    "goal_is_max": True,
                }
            )
    subprocess.run(["rm", "-rf", str(work)], check=False)
    return {"cases": cases, "figures": figures}


# ------------------------------------------------------------------------------------------------ report
def _goal(result: dict[str, Any], label: str) -> float | None:
    """The goal of a case (a maximum of the ratio): from the result's figures, else from CASES.

    :param result: the benchmark's result (``cases``, ``figures``).
    :param label: the case's label.
    """
    for figure in result.get("figures", []):
        if figure.get("label") == label:
            return figure.get("goal")
    return next((case["goal"] for case in CASES if f", {case['label']}," in label), None)


def report_lines(doc: dict[str, Any], charts: dict[str, str]) -> list[str]:
    """This benchmark's section of REPORT.md (its Figures rows come from the result's ``figures``).

    :param doc: the benchmark's JSON document.
    :param charts: chart paths by name (none drawn for this benchmark).
    """
    from bench.report import _row, section_head, verdict

    r = doc["result"]
    cases = r.get("cases", [])
    runs = cases[0]["ours"]["runs"] if cases else "?"
    sizes = ", ".join(f"{case['label']} {case['rows']:,} rows" for case in CASES)
    lines = section_head(doc, __doc__)
    lines += [f"{runs} timed runs per side and case ({sizes}). Goals are maxima of the ratio.", ""]
    for case in cases:
        if "ratio" not in case or "baseline" not in case:
            continue
        goal = _goal(r, case["label"])
        pairs = (
            f" (per-pair ratios {case['pair_ratio_min']:.3f} - {case['pair_ratio_max']:.3f})"
            if "pair_ratio_min" in case
            else ""
        )
        overhead = case["ours"]["median"] - case["baseline"]["median"]
        lines += [
            f"### {case['label'].removeprefix('training overhead, ')}",
            "",
            "| side | runs | median | min - max |",
            "| --- | --- | --- | --- |",
            _row("TrainOnEC2Operator.execute", case["ours"]),
            _row("containers started with the docker CLI", case["baseline"]),
            "",
            f"**Ratio of medians ours / by hand: {case['ratio']:.3f}**{pairs}; overhead {overhead * 1000:+.0f} ms. "
            f"Goal {verdict(case['ratio'], goal)}.",
            "",
        ]
    return lines
