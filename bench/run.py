"""Run the benchmarks and write bench/REPORT.md: ``python -m bench.run [--only NAME] [--runs N]``.

Run it with the project's environment (``source scripts/env.sh``; ``make bench`` does that and starts the local
stack first). Raw results go to bench/results/<name>.json (gitignored); REPORT.md and the charts are rebuilt from
every result there, so ``--only`` refreshes one benchmark and keeps the others' last results.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
import traceback
from typing import Any

from bench import BENCHMARKS, report
from bench.common import RESULTS, BenchError, machine_info, utc_now


def say(message: str) -> None:
    print(message, flush=True)


def run_one(name: str, runs: int | None, machine: dict[str, Any]) -> bool:
    """Run one benchmark and write its JSON; return whether it succeeded."""
    module = importlib.import_module(f"bench.{name}")
    say(f"bench: {name}: {module.TITLE}")
    started = time.perf_counter()
    doc: dict[str, Any] = {
        "name": name,
        "title": module.TITLE,
        "date": utc_now(),
        "runs_requested": runs,
        "machine": machine,
    }
    doc["load_before"] = list(os.getloadavg())
    ok = True
    try:
        doc["result"] = module.run(runs, say)
    except BenchError as err:
        ok = False
        doc["error"] = str(err)
        say(f"bench: {name}: FAILED: {err}")
    except Exception as err:
        ok = False
        doc["error"] = f"{type(err).__name__}: {err}"
        traceback.print_exc()
        say(f"bench: {name}: FAILED: {doc['error']}")
    doc["duration_s"] = time.perf_counter() - started
    doc["load_after"] = list(os.getloadavg())
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(doc, indent=1) + "\n")
    say(f"bench: {name}: done in {doc['duration_s']:.0f} s")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only",
        action="append",
        choices=BENCHMARKS,
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=None,
        help="timed runs per side (default: train_overhead 5, dag_import 10; demo: returning runs, default 1)",
    )
    args = parser.parse_args(argv)
    if args.runs is not None and args.runs < 1:
        parser.error("--runs must be >= 1")
    names = [n for n in BENCHMARKS if n in (args.only or BENCHMARKS)]
    machine = machine_info()
    say(
        f"bench: {machine['cores']} cores, {machine['memory_gib']} GiB, kernel {machine['kernel']}, "
        f"Docker {machine['docker_server']}, Python {machine['python']}, Airflow {machine['airflow']}"
    )
    started = time.perf_counter()
    failed = [name for name in names if not run_one(name, args.runs, machine)]
    path = report.write_report()
    say(f"bench: wrote {path} in {time.perf_counter() - started:.0f} s" + (f"; FAILED: {failed}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
