"""Render bench/results/*.json into bench/REPORT.md, with PNG charts in bench/charts/ when matplotlib is there.

Benchmarks other than the built-in three render themselves when their module defines ``summary_rows(result) ->
list[str]`` (rows of the Figures table: ``| figure | ours | baseline | ratio | goal |``) and ``report_lines(doc,
charts) -> list[str]`` (their section); otherwise their raw result is shown.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from bench import BENCHMARKS
from bench.common import BENCH_DIR, RESULTS

REPORT = BENCH_DIR / "REPORT.md"
CHARTS = BENCH_DIR / "charts"
PEER_FIT_RATIO = 1.62  # SageMaker SDK local mode fit vs docker run, 100k rows (shared/reference)


def load() -> dict[str, dict[str, Any]]:
    """The last result of each benchmark that has one."""
    found = {}
    for name in BENCHMARKS:
        path = RESULTS / f"{name}.json"
        if path.is_file():
            found[name] = json.loads(path.read_text())
    return found


def s(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    return f"{seconds:.3f} s" if seconds < 10 else f"{seconds:.1f} s"


def spread(stats: dict[str, Any]) -> str:
    return f"{s(stats['min'])} - {s(stats['max'])}"


def verdict(ratio: float, goal: float | None, at_least: bool = False) -> str:
    """The goal column: the goal and whether the ratio meets it, or "—" when there is none.

    :param ratio: the measured ratio.
    :param goal: the goal, or None.
    :param at_least: the goal is a minimum (≥), not a maximum (≤).
    """
    if goal is None:
        return "—"
    if at_least:
        return f"≥ {goal:.2f}: {'met' if ratio >= goal else '**not met**'}"
    return f"≤ {goal:.2f}: {'met' if ratio <= goal else '**not met**'}"


def _load(value: list[float] | None) -> str:
    return f"{value[0]:.2f}" if value else "n/a"


def _row(label: str, stats: dict[str, Any]) -> str:
    return f"| {label} | {stats['runs']} | {s(stats['median'])} | {spread(stats)} |"


# ------------------------------------------------------------------------------------------ sections
def _machine(docs: dict[str, dict[str, Any]]) -> list[str]:
    latest = max(docs.values(), key=lambda d: d["date"])
    m = latest["machine"]
    lines = [
        "## Machine",
        "",
        "| | |",
        "| --- | --- |",
        f"| cores | {m['cores']} ({m['cpu']}) |",
        f"| memory | {m['memory_gib']} GiB |",
        f"| kernel | {m['kernel']} ({m['os']}) |",
        f"| Docker server | {m['docker_server']} |",
        f"| Python | {m['python']} |",
        f"| Airflow | {m['airflow']} |",
        "",
        "| benchmark | measured (UTC) | took | load average before / after (1 min) |",
        "| --- | --- | --- | --- |",
    ]
    lines += [
        f"| {name} | {doc['date']} | {doc['duration_s']:.0f} s | "
        f"{_load(doc.get('load_before'))} / {_load(doc.get('load_after'))} |"
        for name, doc in docs.items()
    ]
    busy = [
        name
        for name, doc in docs.items()
        if max((doc.get("load_before") or [0])[0], (doc.get("load_after") or [0])[0]) > (m["cores"] or 1)
    ]
    if busy:
        lines += [
            "",
            f"**Warning: the machine was busy during {', '.join(busy)}** (a 1-minute load average above its "
            f"{m['cores']} cores): those timings include waiting for CPU, so they are noisy; rerun them on a quiet "
            "machine (`python -m bench.run --only NAME`).",
        ]
    lines += [
        "",
        "The load average counts everything on the machine; other work running at the same time (other users, "
        "test suites) makes the absolute times and the container's own work vary, which is why each figure is a "
        "ratio of sides measured alternately in the same loop.",
    ]
    return [*lines, ""]


def _summary(docs: dict[str, dict[str, Any]]) -> list[str]:
    lines = [
        "## Figures",
        "",
        "Each figure is a ratio of medians measured side by side in the same run; absolute times are for context.",
        "",
        "| figure | ours (median) | baseline (median) | ratio | goal |",
        "| --- | --- | --- | --- | --- |",
    ]
    train = docs.get("train_overhead", {}).get("result")
    if train:
        for case in train["cases"]:
            estimate = case.get("ratio_outside_container")
            lines.append(
                f"| training overhead, {case['label']} | {s(case['ours']['median'])} | "
                f"{s(case['docker_run']['median'])} (`docker run`) | **{case['ratio']:.3f}**"
                + (f" (outside-container estimate {estimate:.3f})" if estimate is not None else "")
                + f" | {verdict(case['ratio'], case['goal'])} |"
            )
    dag = docs.get("dag_import", {}).get("result")
    if dag:
        lines.append(
            f"| DAG import, fresh python | {s(dag['ours']['median'])} | {s(dag['empty_operators']['median'])} "
            f"(EmptyOperators) | **{dag['ratio']:.3f}**"
            + (f" (CPU time ratio {dag['cpu_ratio']:.3f})" if dag.get("cpu_ratio") else "")
            + f" | {verdict(dag['ratio'], dag['goal'])} |"
        )
    demo = docs.get("demo", {}).get("result")
    if demo:
        lines.append(
            f"| `make demo`, returning run vs first run after `make clean` | {s(demo['second']['median'])} | "
            f"{s(demo['first']['median'])} (first run) | **{demo['ratio']:.3f}** | — |"
        )
    for name, doc in docs.items():
        hook = _hook(name, "summary_rows")
        if hook and doc.get("result"):
            lines += hook(doc["result"])
        elif isinstance(doc.get("result"), dict) and doc["result"].get("figures"):
            lines += [_figure_row(figure) for figure in doc["result"]["figures"]]
        if doc.get("error"):
            lines.append(f"| {name} | failed: see below | | | |")
    return [*lines, ""]


def section_head(doc: dict[str, Any], module_doc: str | None) -> list[str]:
    """A benchmark section's title and method: the module docstring after its first paragraph.

    :param doc: the benchmark's JSON document (its title).
    :param module_doc: the benchmark module's docstring.
    """
    parts = (module_doc or "").split("\n\n", 1)
    method = parts[1].strip().splitlines() if len(parts) > 1 else []
    return [f"## {doc['title']}", "", *method, ""]


def _figure_row(figure: dict[str, Any]) -> str:
    """One row of the figures table from a benchmark's ``figures`` entry.

    :param figure: label, ours_s, baseline_s, baseline, ratio, goal, goal_is_max.
    """
    judged = verdict(figure["ratio"], figure.get("goal"), at_least=not figure.get("goal_is_max", True))
    return (
        f"| {figure['label']} | {s(figure.get('ours_s'))} | {s(figure.get('baseline_s'))} ({figure.get('baseline', '')}) "
        f"| **{figure['ratio']:.3f}** | {judged} |"
    )


def _hook(name: str, attr: str) -> Any:
    """A benchmark module's own rendering function (``summary_rows(result)``, ``report_lines(doc, charts)``)."""
    try:
        module = importlib.import_module(f"bench.{name}")
    except ImportError:
        return None
    return getattr(module, attr, None)


def _module_section(name: str, doc: dict[str, Any], charts: dict[str, str]) -> list[str]:
    """The section of a benchmark that renders itself, or its raw result when it does not."""
    hook = _hook(name, "report_lines")
    if hook:
        return list(hook(doc, charts))
    raw = json.dumps(doc.get("result"), indent=1)
    return [f"## {doc['title']}", "", "```json", raw[:4000], "```", ""]


def _train(doc: dict[str, Any], charts: dict[str, str]) -> list[str]:
    r = doc["result"]
    lines = [
        f"## {doc['title']}",
        "",
        f"Image `{r['image']}` (examples/containers/linear), hyperparameters `{json.dumps(r['hyperparameters'])}`, "
        f"{r['runs_per_side']} timed runs per side, alternated (ours, docker run, ...) after one warm-up each. "
        "Baseline: `docker run --rm -v config -v train -v model -v output <image> train` on a hand-built /opt/ml "
        "layout, timed from the command's start to its exit. Ours: `TrainOnEC2Operator(compute='local')"
        ".execute(context)` in-process with a fresh run_id, which includes staging, container start, log "
        "streaming, packing and uploading model.tar.gz and output.tar.gz, the job record and the cleanup.",
        "",
    ]
    for case in r["cases"]:
        lines += [
            f"### {case['label']}",
            "",
            "| side | runs | median | min - max |",
            "| --- | --- | --- | --- |",
            _row("TrainOnEC2Operator.execute", case["ours"]),
            _row("docker run", case["docker_run"]),
        ]
        for key, label in (
            ("ours_container_reported", "in-container training, ours"),
            ("docker_run_container_reported", "in-container training, docker run"),
        ):
            if case.get(key):
                lines.append(_row(f"{label} (reported by `train`)", case[key]))
        for key, label in (
            ("ours_outside_container", "outside the container's work, ours (wall - reported)"),
            ("docker_run_outside_container", "outside the container's work, docker run (wall - reported)"),
        ):
            if case.get(key):
                lines.append(_row(label, case[key]))
        lines += [
            "",
            f"**Ratio of medians ours / docker run: {case['ratio']:.3f}** "
            f"(per-pair ratios {case['pair_ratio_min']:.3f} - {case['pair_ratio_max']:.3f}); "
            f"overhead {case['overhead_median_s'] * 1000:+.0f} ms. "
            + (f"Goal {verdict(case['ratio'], case['goal'])}." if case["goal"] else "")
            + (
                f" For reference, SageMaker SDK local mode measured {PEER_FIT_RATIO}x `docker run` on this job."
                if case["rows"] == 100_000
                else ""
            ),
            "",
        ]
        if case.get("ratio_outside_container") is not None:
            lines += [
                "Less sensitive to other load on the machine (the container's own work varies with it): the "
                f"container's work pooled over both sides ({s(case['container_work_pooled_median_s'])}) plus each "
                f"side's median time outside it gives **{case['ratio_outside_container']:.3f}**.",
                "",
            ]
        if case.get("ours_cpu"):
            lines += [
                "CPU used by the orchestrating side per run (median): ours "
                f"{case['ours_cpu']['median'] * 1000:.0f} ms (this process, all threads, during execute()), "
                f"docker CLI {case['docker_run_cli_cpu']['median'] * 1000:.0f} ms.",
                "",
            ]
        lines += [
            "Where our side's time goes (median over the timed runs; exclusive time of each step):",
            "",
            "| step | median |",
            "| --- | --- |",
        ]
        phases = sorted(case["phases_median"].items(), key=lambda kv: -kv[1])
        lines += [f"| {label} | {value * 1000:.1f} ms |" for label, value in phases]
        lines += ["", f"Logs of every run: bench/results/{case['logs']}/", ""]
    if "train_overhead" in charts:
        lines += [f"![training overhead]({charts['train_overhead']})", ""]
    return lines


def _dag(doc: dict[str, Any], charts: dict[str, str]) -> list[str]:
    r = doc["result"]
    forbidden = r["forbidden_modules_loaded"]
    loaded = [m for m, v in forbidden.items() if v]
    extra = ", ".join(f"{pkg} {n}" for pkg, n in r["extra_modules_by_package"].items()) or "none"
    lines = [
        f"## {doc['title']}",
        "",
        f"Each run is a whole fresh process: `python -c \"import runpy; runpy.run_path('{r['dag_file']}')\"` with "
        "the environment of scripts/env.sh. The baseline is generated from the real DAG: the same "
        f"{r['tasks']} tasks, {r['edges']} dependencies, setup/teardown, {r['params']} params and default_args, "
        "every task an `EmptyOperator` (checked identical in shape before timing; the file is kept in "
        "bench/results/dag_import_empty_shape.py). Alternated, after one warm-up each."
        + (
            " The schedule is the same too."
            if r.get("schedule_matched", True)
            else f" The baseline has no schedule: {r.get('schedule_note')}."
        ),
        "",
        "| file | runs | median | min - max |",
        "| --- | --- | --- | --- |",
        _row(r["dag_file"], r["ours"]),
        _row("same shape, EmptyOperators", r["empty_operators"]),
        "",
        f"**Ratio of medians: {r['ratio']:.3f}** (per-pair ratios {r['pair_ratio_min']:.3f} - "
        f"{r['pair_ratio_max']:.3f}); overhead {r['overhead_median_s'] * 1000:+.0f} ms. "
        f"Goal {verdict(r['ratio'], r['goal'])}.",
        "",
        "CPU time of the importing process (user + system), less sensitive to other load on the machine: "
        f"{s(r['ours_cpu']['median'])} vs {s(r['empty_operators_cpu']['median'])}, ratio "
        f"**{r['cpu_ratio']:.3f}**."
        if r.get("cpu_ratio")
        else "",
        "",
        f"Modules in sys.modules after the import: {r['modules_loaded']['ours']} (ours) vs "
        f"{r['modules_loaded']['empty_operators']} (EmptyOperators); the extra ones by package: {extra}. "
        + ", ".join(f"`{m}` loaded: {'**yes**' if v else 'no'}" for m, v in forbidden.items())
        + (" — **these must not be imported at parse time**." if loaded else "."),
        "",
    ]
    it = r.get("import_time")
    if it:
        lines += [
            f"Where the difference goes, from one more import of each with `python -X importtime` (sum of the modules' "
            f"own import times: {it['total_ms']['ours']:.0f} ms vs {it['total_ms']['empty_operators']:.0f} ms): the "
            f"modules only our DAG loads take {it['extra_ms']:.0f} ms ("
            + ", ".join(f"{pkg} {ms:.1f} ms" for pkg, ms in it["extra_by_package_ms"].items())
            + "); the rest of the difference is building the operators and the DAG. The slowest of those modules:",
            "",
            "| module | own import time |",
            "| --- | --- |",
        ]
        lines += [f"| `{name}` | {ms:.1f} ms |" for name, ms in it["extra_top_modules_ms"].items()]
        lines.append("")
    if "dag_import" in charts:
        lines += [f"![DAG import]({charts['dag_import']})", ""]
    return lines


def _demo(doc: dict[str, Any], charts: dict[str, str]) -> list[str]:
    r = doc["result"]
    first, second = r["first"], r["second"]
    lines = [
        f"## {doc['title']}",
        "",
        f"`bash scripts/clean.sh` ({s(r['clean_s'])}), then `bash scripts/demo.sh` twice, timed as wall time of "
        "the whole script. The first run starts the registry, migrates the Airflow database, generates the data, "
        "builds and pushes the image and runs the DAG; the returning run finds all of that in place.",
        "",
        "| run | runs | wall time | min - max | DAG run | script's own count |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| first, after clean | {first['runs']} | {s(first['median'])} | {spread(first)} | "
        f"{first['dag_run_state']} | {first['script_reported_s']} s |",
    ]
    detail = second.get("runs_detail") or [{}]
    lines.append(
        f"| returning | {second['runs']} | {s(second['median'])} | {spread(second)} | "
        f"{detail[-1].get('dag_run_state')} | {detail[-1].get('script_reported_s')} s |"
    )
    lines += [
        "",
        f"**Returning / first: {r['ratio']:.3f}.** Logs: bench/results/{first['log']} and "
        + ", ".join(f"bench/results/{d['log']}" for d in detail if d)
        + ".",
        "",
    ]
    split = [(t, f["dag_test"]) for t, f in (("first run", first), ("returning run", detail[-1])) if f.get("dag_test")]
    if split:
        lines += [
            "The `airflow dags test` step split with the timestamps of its own log (.demo/logs/demo-dags-test.log):",
            "",
            "| part | " + " | ".join(t for t, _ in split) + " |",
            "| --- |" + " --- |" * len(split),
        ]
        parts = (
            ("before it: venv, stack, Airflow db, data", "before_dag_test_s"),
            ("`airflow` CLI start until its first log line", "cli_startup_s"),
            ("parse the DAG, write it to the db, create the run", "parse_and_create_run_s"),
            ("created run until the first task starts", "until_first_task_s"),
            ("between tasks", "between_tasks_s"),
            ("after the last task until the CLI exits", "after_last_task_until_cli_exit_s"),
            ("after it: listing, model, endpoint, invoke", "after_dag_test_s"),
        )
        for label, key in parts:
            lines.append(f"| {label} | " + " | ".join(s(d.get(key)) for _, d in split) + " |")
        tasks = list(dict.fromkeys(task for _, d in split for task in d["tasks_s"]))
        for index, task in enumerate(tasks):
            lines.append(f"| task `{task}` | " + " | ".join(s(d["tasks_s"].get(task)) for _, d in split) + " |")
            if index == 0:
                lines.append(
                    "| of which `dags test` starts its in-process Execution API (first task only) | "
                    + " | ".join(s(d.get("execution_api_start_s")) for _, d in split)
                    + " |"
                )
        lines.append("")
    for title, facts in (("first run", first), ("returning run", detail[-1])):
        if facts.get("slowest_steps"):
            lines += [
                f"Where the {title} spends its time (the slowest lines of output: the time from each line to the "
                "next):",
                "",
                "| at | took | output line |",
                "| --- | --- | --- |",
            ]
            lines += [
                f"| {st['at_s']:.1f} s | {st['took_s']:.1f} s | `{st['line'].replace('|', '/')}` |"
                for st in facts["slowest_steps"]
            ]
            lines.append("")
    if "demo" in charts:
        lines += [f"![make demo]({charts['demo']})", ""]
    return lines


# -------------------------------------------------------------------------------------------- charts
def _bars(ax: Any, labels: list[str], stats: list[dict[str, Any]], colors: list[str]) -> None:
    medians = [st["median"] for st in stats]
    below = [m - st["min"] for m, st in zip(medians, stats, strict=True)]
    above = [st["max"] - m for m, st in zip(medians, stats, strict=True)]
    errors = [below, above]
    bars = ax.bar(labels, medians, yerr=errors, capsize=6, color=colors)
    for bar, value in zip(bars, medians, strict=True):
        ax.text(bar.get_x() + bar.get_width() / 2, value / 2, f"{value:.2f} s", ha="center", color="white")
    ax.set_ylabel("seconds (median, min-max)")


def charts(docs: dict[str, dict[str, Any]]) -> tuple[dict[str, str], str | None]:
    """Draw the charts; return name -> path relative to REPORT.md, and why charts were skipped (or None)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {}, "matplotlib is not installed (`pip install matplotlib` into the venv to get charts)"
    CHARTS.mkdir(exist_ok=True)
    out: dict[str, str] = {}
    ours, base = "#1f77b4", "#aaaaaa"
    train = docs.get("train_overhead", {}).get("result")
    if train:
        cases = train["cases"]
        fig, axes = plt.subplots(1, len(cases), figsize=(5 * len(cases), 4))
        for ax, case in zip(list(getattr(axes, "flat", [axes])), cases, strict=True):
            _bars(ax, ["TrainOnEC2Operator", "docker run"], [case["ours"], case["docker_run"]], [ours, base])
            ax.set_title(f"{case['label']}\nratio {case['ratio']:.3f}", fontsize=10)
        fig.tight_layout()
        fig.savefig(CHARTS / "train_overhead.png", dpi=100)
        plt.close(fig)
        out["train_overhead"] = "charts/train_overhead.png"
    dag = docs.get("dag_import", {}).get("result")
    if dag:
        fig, ax = plt.subplots(figsize=(5, 4))
        _bars(ax, ["retrain_and_deploy.py", "EmptyOperators"], [dag["ours"], dag["empty_operators"]], [ours, base])
        ax.set_title(f"DAG import in a fresh python\nratio {dag['ratio']:.3f}", fontsize=10)
        fig.tight_layout()
        fig.savefig(CHARTS / "dag_import.png", dpi=100)
        plt.close(fig)
        out["dag_import"] = "charts/dag_import.png"
    demo = docs.get("demo", {}).get("result")
    if demo:
        fig, ax = plt.subplots(figsize=(5, 4))
        _bars(ax, ["first (after clean)", "returning"], [demo["first"], demo["second"]], [base, ours])
        ax.set_title("bash scripts/demo.sh wall time", fontsize=10)
        fig.tight_layout()
        fig.savefig(CHARTS / "demo.png", dpi=100)
        plt.close(fig)
        out["demo"] = "charts/demo.png"
    return out, None


# ---------------------------------------------------------------------------------------------- main
def render(docs: dict[str, dict[str, Any]]) -> str:
    drawn, skipped = charts(docs) if docs else ({}, None)
    lines = [
        "# Benchmarks",
        "",
        "Written by `python -m bench.run` (`make bench`) from bench/results/*.json; do not edit by hand.",
        "",
    ]
    if not docs:
        return "\n".join([*lines, "No results yet: run `make bench`.", ""])
    lines += _machine(docs) + _summary(docs)
    sections = {"train_overhead": _train, "dag_import": _dag, "demo": _demo}
    for name, doc in docs.items():
        if doc.get("error"):
            lines += [f"## {doc['title']}", "", "**Failed:**", "", "```", doc["error"], "```", ""]
        elif name in sections:
            lines += sections[name](doc, drawn)
        else:
            lines += _module_section(name, doc, drawn)
    if skipped:
        lines += [f"Charts skipped: {skipped}.", ""]
    return "\n".join(lines)


def write_report() -> Path:
    """Rebuild REPORT.md from the results; return its path."""
    REPORT.write_text(render(load()))
    return REPORT


if __name__ == "__main__":
    print(write_report())
