"""The page's tuning jobs: each tuning state under ``training/``, its trials with their objectives and curves."""

from __future__ import annotations

import json
from collections.abc import Callable
from html import escape
from typing import Any

from ml_lifecycle.core.tuning.state import STATE_NAME, TuningState
from ml_lifecycle.core.uris import ArtifactUri
from ml_lifecycle.plugin.svg_chart import line_chart
from ml_lifecycle.stores.base import ArtifactStore

StoreFor = Callable[[ArtifactUri], ArtifactStore]


def tuning_jobs(root: ArtifactUri, store_for: StoreFor) -> list[dict[str, Any]]:
    """Read every tuning job's state under ``<root>/training/`` (the trials' output_path), newest first.

    :param root: the artifact root.
    :param store_for: returns the store for a URI.
    """
    base = root.join("training")
    store = store_for(base)
    found = [obj.relative_key for obj in store.list_objects(base) if obj.relative_key.endswith(f"/{STATE_NAME}")]
    states = [json.loads(store.read_bytes(base.join(key))) for key in found if key.count("/") == 1]
    return sorted(states, key=lambda s: -float(s.get("started_epoch_s", 0)))


def render_tuning(states: list[dict[str, Any]]) -> str:
    """Render the tuning jobs: a table of trials each, and the trials' objective curves in one chart.

    :param states: tuning states, as tuning_jobs returns them.
    """
    if not states:
        return '<p class="muted">No tuning job yet: run TuneOnEC2Operator with output_path under training/.</p>'
    return "".join(_job(TuningState.from_dict(s)) for s in states)


def _job(state: TuningState) -> str:
    """Render one tuning job.

    :param state: its state.
    """
    best = state.best()
    curves = {t.name.rsplit("-", 2)[-2]: t.series for t in state.trials if t.series}
    chart = line_chart(f"{state.tuning_job_name}: {state.objective_metric}", curves, x_label="s", y_label="value")
    header = "<tr><th>trial</th><th>status</th><th>objective</th><th>hyperparameters</th><th>final metrics</th></tr>"
    rows = "".join(
        f'<tr class="trial" data-trial="{escape(t.name)}"><td>{escape(t.name)}'
        f"{' <span class=badge>best</span>' if best is not None and t.name == best.name else ''}</td>"
        f"<td>{escape(t.status)}{' (early stopping)' if t.early_stopped else ''}</td>"
        f"<td>{'' if t.objective is None else f'{t.objective:.6g}'}</td>"
        f"<td>{escape(', '.join(f'{k}={v}' for k, v in t.hyperparameters.items()))}</td>"
        f"<td>{escape(', '.join(f'{k}={v:.6g}' for k, v in t.metrics.items()))}</td></tr>"
        for t in state.trials
    )
    counts = ", ".join(f"{n} {status}" for status, n in state.counts().items() if n)
    return (
        f'<section class="tuning" data-tuning-job="{escape(state.tuning_job_name)}"><h3>'
        f"{escape(state.tuning_job_name)} <span class=muted>({escape(state.strategy)}, {escape(state.objective_type)} "
        f"{escape(state.objective_metric)}; {escape(state.status)}: {escape(counts)})</span></h3>"
        f'<div class="charts">{chart}</div><table class="trials">{header}{rows}</table></section>'
    )
