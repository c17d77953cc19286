"""Benchmarks of airflow-ml-lifecycle against the bare tools: ``python -m bench.run`` writes bench/REPORT.md.

Each benchmark module exposes ``NAME``, ``TITLE``, ``DEFAULT_RUNS`` and ``run(runs, say) -> dict``; the dict is
kept as JSON in bench/results/<NAME>.json and rendered by bench/report.py.
"""

BENCHMARKS = ("train_overhead", "dag_import", "demo")
