"""Hyperparameter tuning: TuneOnEC2Operator's overhead over bare ``docker run``, and its search's quality.

(a) Overhead: a tuning job of 12 trials, 2 in parallel, of a ~2 s training job (the curve image, 10 epochs of
0.2 s), timed around ``TuneOnEC2Operator(compute="local").execute()`` with a fresh run_id, against 6 x the time of
two such jobs run side by side with ``docker run --rm`` on a hand-written hyperparameters.json. Runs alternate
(ours, baseline) after one warm-up each. Ours includes starting each trial's agent, staging, the records, the
tuning state written after every change, the Optuna study rebuilt before every decision, polling the records every
``poll_interval_s``, packing model.tar.gz and the cleanup of every trial.

(b) Search quality, without containers: the operator's own search (``ml_lifecycle.tuning.search.Search``, rebuilt
from the trials before every proposal, one trial at a time) on a fixed noisy function of three hyperparameters
(a log-scaled learning rate, a linear momentum, an integer depth), many seeds. Counted: the trials until the
noise-free value of the best trial so far (best by its noisy objective, as a tuning job sees it) is within 5% of
the optimum; a seed that never gets there within the budget counts as budget + 1.
"""

from __future__ import annotations

import json
import math
import random
import statistics
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import LOGS, RESULTS, BenchError, fresh_dir, output_to, ratio_of, require_engine, summary, tail

NAME = "tuning"
TITLE = "Hyperparameter tuning: TuneOnEC2Operator overhead vs docker run, and Bayesian vs Random search"
DEFAULT_RUNS = 3
GOAL = 1.15
TRIALS, PARALLEL = 12, 2
JOB_HYPERPARAMETERS = {"epochs": "10", "step_s": "0.2", "opt": "a"}
POLL_INTERVAL_S = 0.5
SEEDS = 30
BUDGET = 80
OPTIMUM = 100.0
WITHIN = 0.05
QUALITY_RANGES = {
    "ContinuousParameterRanges": [
        {"Name": "lr", "MinValue": "0.00001", "MaxValue": "1", "ScalingType": "Logarithmic"},
        {"Name": "momentum", "MinValue": "0", "MaxValue": "1"},
    ],
    "IntegerParameterRanges": [{"Name": "depth", "MinValue": 1, "MaxValue": 16}],
}


# ------------------------------------------------------------------------------------------ (a) overhead
def _curve_image() -> str:
    """Build the curve example image (layer cache makes this cheap) and return its tag."""
    import sys

    import docker

    from bench.common import REPO

    sys.path.insert(0, str(REPO / "tests"))
    from conftest import CURVE_CONTEXT, CURVE_IMAGE, _base_image  # the tests' image, built the same way

    client = docker.from_env(timeout=300)
    client.images.build(path=str(CURVE_CONTEXT), tag=CURVE_IMAGE, buildargs={"BASE_IMAGE": _base_image(client)})
    return CURVE_IMAGE


def _docker_pair(image: str, work: Path, log_path: Path) -> float:
    """Time two ``docker run --rm`` of the training job side by side, from the first start to the last exit.

    :param image: the curve image.
    :param work: a scratch folder.
    :param log_path: where their output goes.
    """
    roots = []
    for host in ("one", "two"):
        config = fresh_dir(work / host / "config")
        (config / "hyperparameters.json").write_text(json.dumps(JOB_HYPERPARAMETERS))
        fresh_dir(work / host / "model")
        roots.append(work / host)
    with open(log_path, "ab") as log:
        started = time.perf_counter()
        runs = [
            subprocess.Popen(
                [
                    "docker",
                    "run",
                    "--rm",
                    "-v",
                    f"{root / 'config'}:/opt/ml/input/config:ro",
                    "-v",
                    f"{root / 'model'}:/opt/ml/model",
                    image,
                    "train",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            for root in roots
        ]
        codes = [run.wait() for run in runs]
        elapsed = time.perf_counter() - started
    if any(codes) or not all((root / "model" / "model.json").is_file() for root in roots):
        raise BenchError(f"docker run of {image} failed ({codes}):\n{tail(log_path)}")
    return elapsed


def _tune(image: str, data: Path, out: Path, log_path: Path) -> float:
    """Time one tuning job through TuneOnEC2Operator.execute with a fresh run_id.

    :param image: the curve image.
    :param data: a training channel (the image reads none).
    :param out: the output folder.
    :param log_path: where the task log goes.
    """
    from types import SimpleNamespace

    from ml_lifecycle import TuneOnEC2Operator

    operator = TuneOnEC2Operator(
        task_id="tune",
        image_uri=image,
        channels={"train": f"file://{data}"},
        output_path=f"file://{out}",
        metric_definitions=[{"Name": "loss", "Regex": r"loss=([0-9.]+)"}],
        hyperparameters={k: v for k, v in JOB_HYPERPARAMETERS.items() if k != "opt"},
        parameter_ranges={"CategoricalParameterRanges": [{"Name": "opt", "Values": ["a", "b", "c"]}]},
        objective_metric_name="loss",
        objective_type="Minimize",
        strategy="Random",
        max_training_jobs=TRIALS,
        max_parallel_training_jobs=PARALLEL,
        poll_interval_s=POLL_INTERVAL_S,
    )
    context = {"ti": SimpleNamespace(dag_id="bench", task_id="tune", map_index=-1), "run_id": uuid.uuid4().hex}
    with output_to(log_path):
        started = time.perf_counter()
        result = operator.execute(context)
        elapsed = time.perf_counter() - started
    if result["trials"]["Completed"] != TRIALS:
        raise BenchError(f"The tuning job ended with {result['trials']}:\n{tail(log_path)}")
    return elapsed


def _overhead(runs: int, say: Callable[[str], None]) -> dict[str, Any]:
    """Measure (a).

    :param runs: timed runs per side.
    :param say: progress.
    """
    require_engine()
    image = _curve_image()
    work = fresh_dir(RESULTS / "tuning-work")
    data = work / "data"
    data.mkdir()
    (data / "unused.csv").write_text("0\n")
    log_path = LOGS / "tuning.log"
    ours: list[float] = []
    pairs: list[float] = []
    for index in range(runs + 1):  # the first of each is a warm-up
        took = _tune(image, data, fresh_dir(work / "out"), log_path)
        pair = _docker_pair(image, work, log_path)
        say(f"bench: tuning: run {index}: ours {took:.1f} s, two docker runs side by side {pair:.2f} s")
        if index:
            ours.append(took)
            pairs.append(pair)
    baseline = summary([6 * pair for pair in pairs])
    mine = summary(ours)
    return {
        "image": image,
        "trials": TRIALS,
        "parallel": PARALLEL,
        "poll_interval_s": POLL_INTERVAL_S,
        "job_hyperparameters": JOB_HYPERPARAMETERS,
        "ours": mine,
        "docker_run_pair": summary(pairs),
        "baseline_6_pairs": baseline,
        **ratio_of(mine, baseline),
        "goal": GOAL,
    }


# ------------------------------------------------------------------------------------------ (b) quality
def objective(hyperparameters: dict[str, str]) -> float:
    """Return the noise-free value of the known function: 100 at lr=10^-2.5, momentum=0.7, depth=6.

    :param hyperparameters: the trial's hyperparameters.
    """
    lr, momentum, depth = (float(hyperparameters[k]) for k in ("lr", "momentum", "depth"))
    distance = (math.log10(lr) + 2.5) ** 2 / 4 + 4 * (momentum - 0.7) ** 2 + (depth - 6) ** 2 / 36
    return OPTIMUM * math.exp(-distance)


def trials_to_target(strategy: str, seed: int) -> int:
    """Run the search one trial at a time; return the trials until the best is within 5% of the optimum.

    :param strategy: ``Bayesian`` or ``Random``.
    :param seed: the RandomSeed (and the noise's seed).
    """
    from ml_lifecycle.core.tuning.config import TuningConfig
    from ml_lifecycle.core.tuning.state import Trial, TrialStatus, trial_name
    from ml_lifecycle.tuning.search import Search, hyperparameters_of

    config = TuningConfig.build(
        strategy=strategy,
        objective_metric_name="score",
        objective_type="Maximize",
        parameter_ranges=QUALITY_RANGES,
        metric_names=["score"],
        static_hyperparameters={},
        max_training_jobs=BUDGET,
        random_seed=seed,
    )
    noise = random.Random(seed)
    trials: list[Trial] = []
    best_observed, best_true = -math.inf, 0.0
    for number in range(1, BUDGET + 1):
        params, _ = Search(config, f"quality-{seed}", trials).propose(number)
        hyperparameters = hyperparameters_of(config, params)
        true = objective(hyperparameters)
        observed = true + noise.gauss(0.0, 2.0)
        trials.append(Trial(number, trial_name("q", number), hyperparameters, params, TrialStatus.COMPLETED, observed))
        if observed > best_observed:
            best_observed, best_true = observed, true
        if best_true >= OPTIMUM * (1 - WITHIN):
            return number
    return BUDGET + 1


def _quality(say: Callable[[str], None]) -> dict[str, Any]:
    """Measure (b).

    :param say: progress.
    """
    result: dict[str, Any] = {"seeds": SEEDS, "budget": BUDGET, "within": WITHIN, "ranges": QUALITY_RANGES}
    for strategy in ("Bayesian", "Random"):
        counts = [trials_to_target(strategy, seed) for seed in range(SEEDS)]
        result[strategy] = {
            "trials": counts,
            "median": statistics.median(counts),
            "mean": statistics.mean(counts),
            "missed": sum(c > BUDGET for c in counts),
        }
        say(f"bench: tuning: {strategy}: median {statistics.median(counts)} trials to within 5% ({counts})")
    result["ratio_bayesian_to_random"] = result["Bayesian"]["median"] / result["Random"]["median"]
    return result


def run(runs: int | None, say: Callable[[str], None]) -> dict[str, Any]:
    """Run both parts.

    :param runs: timed runs per side of (a); default DEFAULT_RUNS.
    :param say: progress.
    """
    return {"overhead": _overhead(runs or DEFAULT_RUNS, say), "quality": _quality(say)}


def summary_rows(result: dict[str, Any]) -> list[str]:
    """This benchmark's rows of the report's Figures table.

    :param result: the benchmark's result.
    """
    from bench.report import s, verdict

    overhead, quality = result["overhead"], result["quality"]
    return [
        f"| tuning, {TRIALS} trials {PARALLEL} in parallel of a ~2 s job | {s(overhead['ours']['median'])} | "
        f"{s(overhead['baseline_6_pairs']['median'])} (6 x two `docker run` side by side) | "
        f"**{overhead['ratio']:.3f}** | {verdict(overhead['ratio'], overhead['goal'])} |",
        f"| search, trials to within 5% of the optimum ({quality['seeds']} seeds) | "
        f"{quality['Bayesian']['median']} (Bayesian) | {quality['Random']['median']} (Random) | "
        f"**{quality['ratio_bayesian_to_random']:.3f}** | — |",
    ]
