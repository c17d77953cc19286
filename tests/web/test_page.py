"""The ML lifecycle page: model versions with metrics, lineage and charts, endpoints, running jobs; and the plugin."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.helpers import task_context
from support.models import linear_model_archive

from ml_lifecycle import ExportArtifactsOperator
from ml_lifecycle.plugin.prices import estimate_usd
from ml_lifecycle.plugin.svg_chart import line_chart, nice_ticks


def _train_and_publish(root: Path, job: str, rmse: float, weights: list[float]) -> None:
    """Lay out a finished training job with a metric series, and publish its model.

    :param root: the artifact root folder.
    :param job: the job name.
    :param rmse: the final validation_rmse.
    :param weights: the model weights.
    """
    job_root = root / "training" / job
    model = linear_model_archive(job_root / "output" / "model.tar.gz", weights)
    series = {"validation_rmse": [[1.0, rmse * 3], [2.0, rmse * 2], [3.0, rmse]]}
    record = {
        "job_name": job,
        "kind": "training",
        "status": "Completed",
        "metrics": {"validation_rmse": rmse},
        "metric_series": series,
        "hyperparameters": {"l2": "0.1"},
        "image_digest": "127.0.0.1:5000/m@sha256:" + "c" * 64,
    }
    (job_root / "status.json").write_text(json.dumps(record))
    ExportArtifactsOperator(
        task_id="export",
        model_uri=model,
        model_name="linear",
        registry_uri=f"file://{root / 'registry'}",
        quality_gate={"metric": "validation_rmse", "max": 1.0},
    ).execute(task_context())


@pytest.fixture
def page_env(tmp_path, monkeypatch):
    """An artifact root with two published versions, one endpoint record and one running job."""
    root = tmp_path / "artifacts"
    home = tmp_path / "home"
    monkeypatch.setenv("ML_LIFECYCLE_ARTIFACT_ROOT", f"file://{root}")
    monkeypatch.setenv("ML_LIFECYCLE_HOME", str(home))
    monkeypatch.setenv("ML_LIFECYCLE_WORK_DIR", str(home / "work"))
    _train_and_publish(root, "job-a", 0.4, [1.0])
    _train_and_publish(root, "job-b", 0.2, [2.0])
    (home / "endpoints").mkdir(parents=True)
    endpoint = {
        "endpoint_name": "linear",
        "status": "InService",
        "url": "http://127.0.0.1:9",
        "model_uri": f"file://{root}/registry/linear/2/model.tar.gz",
        "instance_count": 1,
        "updated_at": "2026-11-25T10:00:00+00:00",
    }
    (home / "endpoints" / "linear.json").write_text(json.dumps(endpoint))
    started = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    running = root / "training" / "job-c"
    running.mkdir(parents=True)
    record = {"job_name": "job-c", "kind": "training", "status": "InProgress", "secondary_status": "Training"}
    (running / "status.json").write_text(json.dumps({**record, "created_at": started, "hosts": ["algo-1", "algo-2"]}))
    config = home / "work" / "jobs" / "job-c" / "algo-1" / "input" / "config"
    config.mkdir(parents=True)
    (config / "resourceconfig.json").write_text(json.dumps({"current_instance_type": "ml.m5.xlarge"}))
    processing = root / "processing" / "job-p"  # ProcessOnEC2Operator's default records_uri
    processing.mkdir(parents=True)
    record = {"job_name": "job-p", "kind": "processing", "status": "InProgress", "secondary_status": "Training"}
    (processing / "status.json").write_text(json.dumps({**record, "created_at": started, "hosts": ["algo-1"]}))
    config = home / "work" / "jobs" / "job-p" / "algo-1" / "config"
    config.mkdir(parents=True)
    # A processing host's resourceconfig.json names only hosts; its processingjobconfig.json has the instance type.
    (config / "resourceconfig.json").write_text(json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]}))
    cluster = {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.c5.xlarge"}}
    (config / "processingjobconfig.json").write_text(json.dumps({"ProcessingResources": cluster}))
    return root


def test_the_page_shows_versions_metrics_lineage_charts_endpoints_and_running_jobs(page_env):
    from fastapi.testclient import TestClient

    from ml_lifecycle.plugin.app import create_app

    response = TestClient(create_app()).get("/")
    assert response.status_code == 200
    html = response.text
    versions = re.findall(r'<tr class="version" data-version="(\d+)">', html)
    assert versions == ["2", "1"]
    assert 'data-metric="validation_rmse">validation_rmse = 0.2<' in html
    assert "serving at linear" in html
    assert "validation_rmse=0.2 &lt;= max 1" in html  # the quality gate, escaped
    assert "job-b" in html and "sha256:cccc" in html and "l2=0.1" in html
    assert html.count("<svg") == 3  # metrics by version, and one training curve per version
    assert 'aria-label="linear: metrics by version"' in html
    assert '<span class="bad">no answer</span>' in html  # nothing listens on port 9
    assert "job-c" in html and "2 x ml.m5.xlarge" in html and "2 h 0" in html
    assert re.search(r"\$0\.7[67]\d\d", html)  # 2 hosts x 2 h x $0.192


def test_the_page_shows_what_an_endpoints_data_capture_wrote_and_lost(page_env, tmp_path):
    from fastapi.testclient import TestClient

    from ml_lifecycle.compute.local.endpoints.record import EndpointRecord, save_endpoint
    from ml_lifecycle.plugin.app import create_app

    home = tmp_path / "home"
    record = EndpointRecord("linear", "Creating", "", [], "r1", "img", "", "file:///m.tar.gz", 1, "", 0.0, {})
    save_endpoint(home, record)  # a record the backend describes (Creating: no engine asked)
    # What the endpoint's proxy writes at each flush (docker/endpoint-proxy/mlc_capture.lua).
    state = home / "endpoints" / "linear" / "proxy" / "capture-state"
    state.mkdir(parents=True)
    lost = {"captured": 120, "lost": 7, "last_error": "cannot make /x/2026/12/07/14: No space left on device"}
    (state / "stats.json").write_text(json.dumps(lost))

    html = TestClient(create_app()).get("/").text

    assert (
        '<div class="bad">data capture: 120 records written, 7 lost '
        "(cannot make /x/2026/12/07/14: No space left on device)</div>" in html
    )


def test_the_overview_api_returns_the_same_data(page_env):
    from fastapi.testclient import TestClient

    from ml_lifecycle.plugin.app import create_app

    data = TestClient(create_app()).get("/api/overview").json()
    assert [m["version"] for m in data["models"]["linear"]] == [1, 2]
    assert data["models"]["linear"][1]["training_curves"]["validation_rmse"][-1] == [3.0, 0.2]
    assert [(j["job_name"], j["instance_type"]) for j in data["running"]] == [
        ("job-c", "ml.m5.xlarge"),
        ("job-p", "ml.c5.xlarge"),
    ]
    assert data["problems"] == []


def test_a_broken_source_is_reported_and_the_rest_still_shows(page_env):
    from fastapi.testclient import TestClient

    from ml_lifecycle.plugin.app import create_app

    (page_env / "registry" / "linear" / "1" / "manifest.json").write_text("{not json")
    html = TestClient(create_app()).get("/").text
    assert "Could not read the model versions" in html
    assert '<tr class="job">' in html


def test_the_plugin_mounts_the_app_and_adds_the_nav_entry():
    from ml_lifecycle.plugin import MlLifecyclePlugin

    assert MlLifecyclePlugin.fastapi_apps[0]["url_prefix"] == "/ml-lifecycle"
    view = MlLifecyclePlugin.external_views[0]
    assert (view["name"], view["destination"], view["href"]) == ("ML lifecycle", "nav", "/ml-lifecycle/")
    assert "latest_model_uri" in [m.__name__ for m in MlLifecyclePlugin.macros]


def test_the_latest_version_macros(page_env):
    from ml_lifecycle.plugin.macros import latest_model_uri, latest_model_version

    assert latest_model_version("linear") == 2
    assert latest_model_uri(f"file://{page_env}/registry", "linear").endswith("/linear/2/model.tar.gz")


@given(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6), st.booleans())
def test_ticks_cover_the_range(low, high, integer):
    ticks = nice_ticks(round(low) if integer else low, round(high) if integer else high, integer=integer)
    assert ticks[0] <= min(low, high) + 1 and ticks[-1] >= max(low, high) - 1
    assert ticks == sorted(ticks) and len(ticks) <= 12
    if integer:
        assert all(float(t).is_integer() for t in ticks)


def test_a_chart_without_points_says_so_and_escapes_names():
    assert "no data" in line_chart("empty", {}, x_label="x")
    assert "&lt;b&gt;" in line_chart("t", {"<b>": [[1, 1]]}, x_label="x")


def test_cost_estimates():
    assert estimate_usd("ml.m5.large", 2, 3600) == pytest.approx(0.192)
    assert estimate_usd("ml.unknown.type", 1, 3600) is None


def test_the_page_shows_tuning_jobs_with_their_trials_and_the_best(page_env):
    from fastapi.testclient import TestClient

    from ml_lifecycle.core.tuning.state import Trial, TrialStatus, TuningState
    from ml_lifecycle.plugin.app import create_app

    state = TuningState("tune-1", "Bayesian", "loss", "Minimize", 1.0, status="Completed")
    state.trials = [
        Trial(1, "tune-1-001-aaaaaaaa", {"x": "0.5"}, {}, TrialStatus.COMPLETED, 0.25, [[1.0, 1.0], [2.0, 0.25]]),
        Trial(
            2,
            "tune-1-002-bbbbbbbb",
            {"x": "<b>"},
            {},
            TrialStatus.COMPLETED,
            0.125,
            [[1.0, 0.5], [2.0, 0.125]],
            metrics={"loss": 0.125, "accuracy": 0.9},
        ),
        Trial(3, "tune-1-003-cccccccc", {"x": "0.9"}, {}, TrialStatus.STOPPED, 4.0, [[1.0, 4.0]], early_stopped=True),
    ]
    (page_env / "training" / "tune-1").mkdir(parents=True)
    (page_env / "training" / "tune-1" / "tuning-state.json").write_text(json.dumps(state.to_dict()))

    html = TestClient(create_app()).get("/").text
    tuning = html.split('<h2 id="tuning">', 1)[1]
    trials = re.findall(r'<tr class="trial" data-trial="([^"]+)">', tuning)
    assert trials == ["tune-1-001-aaaaaaaa", "tune-1-002-bbbbbbbb", "tune-1-003-cccccccc"]
    assert re.search(r"tune-1-002-bbbbbbbb <span class=badge>best</span>", tuning)
    assert "x=&lt;b&gt;" in tuning and "Stopped (early stopping)" in tuning and "2 Completed, 1 Stopped" in tuning
    assert tuning.count("<svg") == 1
    assert "loss=0.125, accuracy=0.9" in tuning
