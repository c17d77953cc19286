"""Benchmarks of airflow-ml-lifecycle against the bare tools and the peer: ``python -m bench.run`` writes REPORT.md.

Each benchmark module exposes ``NAME``, ``TITLE``, ``DEFAULT_RUNS`` and ``run(runs, say) -> dict``; the dict is
kept as JSON in bench/results/<NAME>.json and rendered by bench/report.py.
"""

BENCHMARKS = (
    "train_overhead",
    "train_hosts",
    "s3_staging",
    "dag_import",
    "demo",
    "build_push",
    "transform",
    "endpoint",
    "endpoint_capture",
    "export_model",
    "train_peer",
    "ec2_emulated",
    "credentials",
    "script_mode",
    "sagemaker_api",
    "process",
    "tuning",
)
