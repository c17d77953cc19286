"""Render the ML lifecycle page as one self-contained HTML document (inline CSS and SVG, no scripts)."""

from __future__ import annotations

from html import escape
from typing import Any

from ml_lifecycle.core.status import EndpointStatus
from ml_lifecycle.plugin.overview import Overview
from ml_lifecycle.plugin.svg_chart import line_chart
from ml_lifecycle.plugin.tuning_view import render_tuning

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:16px 24px;color:#1d2733}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd}
h3{font-size:15px;margin:18px 0 6px} .muted{color:#667} code{font-size:12px;background:#f3f4f6;padding:1px 3px}
table{border-collapse:collapse;margin:6px 0 12px;font-size:13px} th,td{border:1px solid #dde;padding:4px 8px;
text-align:left;vertical-align:top} th{background:#f5f6f8} .ok{color:#18794e;font-weight:600}
.bad{color:#b42318;font-weight:600} .badge{background:#e6f4ea;color:#18794e;border-radius:8px;padding:0 6px}
.problems{background:#fff4e5;border:1px solid #f5c07a;padding:8px 12px} details{margin:2px 0}
.charts{display:flex;flex-wrap:wrap;gap:12px}
"""


def render(overview: Overview) -> str:
    """Return the page for an overview.

    :param overview: what to show.
    """
    body = [
        "<h1>ML lifecycle</h1>",
        f'<p class="muted">Artifacts under <code>{escape(overview.artifact_root)}</code></p>',
    ]
    if overview.problems:
        items = "".join(f"<li>{escape(p)}</li>" for p in overview.problems)
        body.append(f'<div class="problems"><b>Some data could not be read</b><ul>{items}</ul></div>')
    body.append('<h2 id="models">Model versions</h2>')
    if not overview.models:
        body.append('<p class="muted">No model is published yet: run a DAG with ExportArtifactsOperator.</p>')
    served = {e.get("model_uri"): e.get("endpoint_name") for e in overview.endpoints}
    for name, manifests in overview.models.items():
        body.append(_model_section(name, manifests, served))
    body.append('<h2 id="endpoints">Endpoints</h2>')
    body.append(_endpoints(overview.endpoints))
    body.append(_other_endpoints(overview.other_endpoints))
    body.append(_deleted(overview.deleted_endpoints))
    body.append('<h2 id="running">Running jobs</h2>')
    body.append(_running(overview.running))
    body.append('<h2 id="tuning">Tuning jobs</h2>')
    body.append(render_tuning(overview.tuning))
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>ML lifecycle</title>'
        f"<style>{_STYLE}</style></head><body>{''.join(body)}</body></html>"
    )


def _model_section(name: str, manifests: list[dict[str, Any]], served: dict[Any, Any]) -> str:
    """Render one model: the chart of its metrics across versions, and a row per version with its lineage.

    :param name: the model name.
    :param manifests: its version manifests, oldest first.
    :param served: model URI -> the endpoint serving it.
    """
    series: dict[str, list[list[float]]] = {}
    for manifest in manifests:
        for metric, value in (manifest.get("lineage", {}).get("metrics") or {}).items():
            series.setdefault(metric, []).append([manifest["version"], float(value)])
    chart = line_chart(f"{name}: metrics by version", series, x_label="version", y_label="value")
    rows = "".join(_version_row(m, served) for m in reversed(manifests))
    header = "<tr><th>version</th><th>metrics</th><th>quality gate</th><th>lineage</th><th>training curve</th></tr>"
    return (
        f'<section class="model" data-model="{escape(name)}"><h3>{escape(name)} '
        f'<span class="muted">({len(manifests)} version{"s" if len(manifests) != 1 else ""})</span></h3>'
        f'<div class="charts">{chart}</div><table class="versions">{header}{rows}</table></section>'
    )


def _version_row(manifest: dict[str, Any], served: dict[Any, Any]) -> str:
    """Render one version's row.

    :param manifest: the version's manifest (with ``training_curves``).
    :param served: model URI -> the endpoint serving it.
    """
    lineage = manifest.get("lineage", {})
    version = manifest.get("version")
    endpoint = served.get(manifest.get("uri"))
    badge = f' <span class="badge">serving at {escape(str(endpoint))}</span>' if endpoint else ""
    metrics = "<br>".join(
        f'<span class="metric" data-metric="{escape(k)}">{escape(k)} = {float(v):.6g}</span>'
        for k, v in sorted((lineage.get("metrics") or {}).items())
    )
    gate = lineage.get("quality_gate") or {}
    gate_text = (
        f'<span class="ok">passed</span><br><span class="muted">{escape("; ".join(gate.get("reasons", [])))}</span>'
        if gate.get("passed")
        else '<span class="muted">no gate</span>'
    )
    inputs = "".join(
        f"<li>{escape(ch)}: <code>{escape(str(i.get('uri', '')))}</code> ({i.get('objects', '?')} objects, "
        f"etags {escape(str(i.get('etags_sha256', ''))[:12])})</li>"
        for ch, i in sorted((lineage.get("inputs") or {}).items())
    )
    hyper = ", ".join(
        f"{escape(k)}={escape(str(v))}" for k, v in sorted((lineage.get("hyperparameters") or {}).items())
    )
    details = (
        f"<details><summary>{escape(str(lineage.get('training_job', 'lineage')))}</summary>"
        f"<div>model <code>{escape(str(manifest.get('uri', '')))}</code></div>"
        f"<div>sha256 <code>{escape(str(manifest.get('model', {}).get('sha256', ''))[:16])}</code></div>"
        f"<div>image <code>{escape(str(lineage.get('image_digest', '')))}</code></div>"
        f"<div>hyperparameters {hyper or '<span class=muted>none</span>'}</div>"
        f"<div>inputs<ul>{inputs}</ul></div>"
        f"<div>DAG run <code>{escape(str(lineage.get('dag_id', '')))}</code> / "
        f"<code>{escape(str(lineage.get('dag_run', '')))}</code></div></details>"
    )
    curves = manifest.get("training_curves") or {}
    curve = (
        line_chart(f"version {version}: training curve", curves, x_label="seconds since start", width=380, height=200)
        if curves
        else '<span class="muted">no series recorded</span>'
    )
    return (
        f'<tr class="version" data-version="{escape(str(version))}"><td>{escape(str(version))}{badge}</td>'
        f"<td>{metrics}</td><td>{gate_text}</td><td>{details}</td><td>{curve}</td></tr>"
    )


def _endpoints(endpoints: list[dict[str, Any]]) -> str:
    """Render the endpoint table.

    :param endpoints: endpoint records with ``answers_ping`` (and, as the engine says, ``serving_problem``).
    """
    if not endpoints:
        return '<p class="muted">No endpoint is deployed.</p>'
    rows = []
    for e in endpoints:
        url = escape(str(e.get("url", "")))
        ping = e.get("answers_ping")
        health = (
            ""
            if ping is None
            else ('<span class="ok">answers /ping</span>' if ping else '<span class="bad">no answer</span>')
        )
        why = e.get("serving_problem") or (e.get("failure_reason") if e.get("status") == EndpointStatus.FAILED else "")
        reason = f'<div class="bad">{escape(str(why))}</div>' if why else ""
        reason += _capture(e)
        rows.append(
            f'<tr class="endpoint"><td>{escape(str(e.get("endpoint_name", "")))}</td>'
            f'<td>{escape(str(e.get("status", "")))} {health}{reason}</td><td><a href="{url}">{url}</a></td>'
            f"<td><code>{escape(str(e.get('model_uri', '')))}</code></td><td>{escape(str(e.get('instance_count', '')))}</td>"
            f"<td>{escape(str(e.get('updated_at', '')))}</td>{_cost_cells(e)}</tr>"
        )
    header = (
        "<tr><th>endpoint</th><th>status</th><th>URL</th><th>model</th><th>instances</th><th>updated</th>"
        "<th>running cost (EC2 on-demand)</th><th>last request</th><th>idle limit</th></tr>"
    )
    return f'<table class="endpoints">{header}{"".join(rows)}</table>'


def _cost_cells(e: dict[str, Any]) -> str:
    """Render an endpoint's cost, last request and idle limit cells.

    :param e: the endpoint's record with what endpoint_costs.cost_columns added.
    """
    cost = e.get("estimated_usd")
    hours = e.get("instance_hours")
    cost_text = "—" if cost is None else f"${cost:.4f}"
    if hours is not None:
        cost_text += (
            f' <span class="muted">({hours:.2f} instance-h of {escape(str(e.get("instance_type") or "?"))})</span>'
        )
    idle_h = e.get("idle_h")
    last = escape(str(e.get("last_request_at") or "none counted"))
    if idle_h is not None:
        last += f' <span class="muted">(idle {idle_h:.2f} h)</span>'
    limit = e.get("idle_delete_after_h")
    limit_text = "never deleted" if limit is None else f"deleted after {float(limit):g} h idle"
    return f'<td class="cost">{cost_text}</td><td class="last-request">{last}</td><td>{limit_text}</td>'


def _other_endpoints(endpoints: list[dict[str, Any]]) -> str:
    """Render the endpoints on other backends (ML_LIFECYCLE_PAGE_COMPUTE).

    :param endpoints: each with its compute and what endpoint_costs.cost_columns says.
    """
    if not endpoints:
        return ""
    rows = "".join(
        f'<tr class="other-endpoint"><td>{escape(str(e["endpoint_name"]))}</td><td>{escape(str(e["compute"]))}</td>'
        f"<td>{escape(str(e.get('running_instances', '')))}</td>{_cost_cells(e)}</tr>"
        for e in endpoints
    )
    header = (
        "<tr><th>endpoint</th><th>compute</th><th>running instances</th><th>running cost (EC2 on-demand)</th>"
        "<th>last request</th><th>idle limit</th></tr>"
    )
    return f'<h3>Endpoints on other backends</h3><table class="other-endpoints">{header}{rows}</table>'


def _deleted(notes: list[dict[str, Any]]) -> str:
    """Render the endpoints the reaper deleted for idleness.

    :param notes: the reaper's notes, newest first.
    """
    if not notes:
        return ""
    rows = "".join(
        f'<tr class="deleted-endpoint"><td>{escape(str(n.get("job", "")))}</td>'
        f"<td>{escape(str(n.get('compute', '')))}</td><td>{escape(str(n.get('deleted_at', '')))}</td>"
        f"<td>{escape(str(n.get('reason', '')))}</td></tr>"
        for n in notes
    )
    header = "<tr><th>endpoint</th><th>compute</th><th>deleted at</th><th>why</th></tr>"
    return f'<h3>Deleted by the reaper for idleness</h3><table class="deleted-endpoints">{header}{rows}</table>'


def _capture(endpoint: dict[str, Any]) -> str:
    """Render what an endpoint's data capture wrote and lost (the loss and its reason stand out), or nothing.

    :param endpoint: an endpoint record with the ``capture_*`` counters its description gave.
    """
    if "capture_records" not in endpoint:
        return ""
    lost = str(endpoint.get("capture_lost", "0"))
    text = f"data capture: {endpoint['capture_records']} records written, {lost} lost"
    if lost != "0":
        text += f" ({endpoint.get('capture_last_error', '')})"
    return f'<div class="{"bad" if lost != "0" else "muted"}">{escape(text)}</div>'


def _running(jobs: list[dict[str, Any]]) -> str:
    """Render the running-job table with age and estimated cost.

    :param jobs: InProgress job records with ``age_s``, ``instance_type`` and ``estimated_usd``.
    """
    if not jobs:
        return '<p class="muted">No job is running.</p>'
    rows = []
    for j in jobs:
        cost = j.get("estimated_usd")
        rows.append(
            f'<tr class="job"><td>{escape(str(j.get("job_name", "")))}</td><td>{escape(str(j.get("kind", "")))}</td>'
            f"<td>{escape(str(j.get('secondary_status', '')))}</td><td>{_age(float(j.get('age_s', 0)))}</td>"
            f"<td>{len(j.get('hosts') or [])} x {escape(str(j.get('instance_type') or 'unknown type'))}</td>"
            f"<td>{'—' if cost is None else f'${cost:.4f}'}</td></tr>"
        )
    header = (
        "<tr><th>job</th><th>kind</th><th>state</th><th>age</th><th>hosts</th>"
        "<th>estimated cost (EC2 on-demand)</th></tr>"
    )
    return f'<table class="running">{header}{"".join(rows)}</table>'


def _age(seconds: float) -> str:
    """Format an age as ``1 h 02 min`` or ``42 s``.

    :param seconds: the age.
    """
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = int(seconds // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"
