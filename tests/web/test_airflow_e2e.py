"""Airflow end to end: trigger retrain_and_deploy through the REST API as the form would, then see the result on
the ML lifecycle page in a real browser (headless Debian chromium driven by playwright)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from airflow_stack import REPO_ROOT, AirflowStack, start_airflow
from support.api_server import CREDENTIALS_CONNECTION, api_client

pytestmark = [pytest.mark.docker, pytest.mark.airflow_e2e]

ARTIFACTS = REPO_ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
RUN_TIMEOUT_S = 1200


def _form_conf(stack: AirflowStack, endpoint: str) -> dict:
    """Build the conf the trigger form submits: every Param's value, with a few fields changed by the user.

    :param stack: the running Airflow.
    :param endpoint: the endpoint name to deploy.
    """
    params = stack.api("GET", "/api/v2/dags/retrain_and_deploy/details")["params"]
    conf = {name: spec["value"] for name, spec in params.items()}
    conf.update(endpoint_name=endpoint, hyperparameters={"l2": "0.05"}, quality_threshold=0.5, instance_count=1)
    return conf


def _version_of_run(ml_home: Path, run_id: str) -> dict:
    """Return the manifest of the model version a DAG run published (a scheduled run may have published one too).

    :param ml_home: ML_LIFECYCLE_HOME.
    :param run_id: the DAG run.
    """
    manifests = [json.loads(p.read_text()) for p in (ml_home / "artifacts/registry/linear").glob("*/manifest.json")]
    mine = [m for m in manifests if m["lineage"]["dag_run"] == run_id]
    assert len(mine) == 1, [m["lineage"]["dag_run"] for m in manifests]
    return mine[0]


def _run_state(stack: AirflowStack, dag_id: str, run_id: str) -> str | None:
    """Return a DAG run's state once it is final, else None.

    :param stack: the running Airflow.
    :param dag_id: the DAG.
    :param run_id: the run.
    """
    state = stack.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"]
    return state if state in ("success", "failed") else None


@pytest.fixture(scope="module")
def lifecycle_run(tmp_path_factory, example_image, registry):
    """Start Airflow, trigger retrain_and_deploy through the REST API with the form's conf, and wait for the end."""
    root = tmp_path_factory.mktemp("airflow-e2e")
    ml_home = root / "ml-home"
    subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "examples" / "data" / "generate.py"),
            "--out",
            str(ml_home / "artifacts" / "data"),
        ],
        check=True,
        capture_output=True,
    )
    stack = start_airflow(
        root / "airflow", {"ML_LIFECYCLE_HOME": str(ml_home), "AIRFLOW_CONN_SAGEMAKER_API": CREDENTIALS_CONNECTION}
    )
    for name in ("ML_LIFECYCLE_ARTIFACT_ROOT", "ML_LIFECYCLE_WORK_DIR"):
        stack.env.pop(name, None)
    endpoint = f"e2e-{uuid.uuid4().hex[:8]}"
    try:
        stack.wait_for(
            "the three DAGs",
            lambda: stack.api("GET", "/api/v2/dags")["total_entries"] >= 3,
            timeout_s=180,
        )
        for dag_id in ("retrain_and_deploy", "batch_scoring"):
            stack.api("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
        run_id = f"rest-e2e-{uuid.uuid4().hex[:8]}"
        body = {"dag_run_id": run_id, "logical_date": None, "conf": _form_conf(stack, endpoint)}
        stack.api("POST", "/api/v2/dags/retrain_and_deploy/dagRuns", body)
        state = stack.wait_for(
            "the triggered run", lambda: _run_state(stack, "retrain_and_deploy", run_id), RUN_TIMEOUT_S, 3
        )
        yield {"stack": stack, "run_id": run_id, "state": state, "endpoint": endpoint, "ml_home": ml_home}
    finally:
        stack.stop()
        cli = str(Path(sys.executable).with_name("ml-lifecycle"))
        for record in (ml_home / "endpoints").glob("*.json"):
            subprocess.run(
                [cli, "delete-endpoint", record.stem],
                env={**stack.env, "ML_LIFECYCLE_HOME": str(ml_home)},
                capture_output=True,
                check=False,
            )


def test_the_plugin_serves_the_sagemaker_api_on_the_api_server(lifecycle_run):
    import urllib.error
    import urllib.request

    from botocore.exceptions import ClientError

    url = lifecycle_run["stack"].url + "/sagemaker-api"
    sagemaker = api_client("sagemaker", url)  # signed over the path under the API server's prefix
    model = {"Image": "ml-lifecycle-test/linear:test", "ModelDataUrl": "s3://bucket/model.tar.gz"}
    arn = sagemaker.create_model(ModelName="plugin-model", PrimaryContainer=model)["ModelArn"]
    assert sagemaker.describe_model(ModelName="plugin-model")["ModelArn"] == arn
    assert [m["ModelName"] for m in sagemaker.list_models()["Models"]] == ["plugin-model"]
    sagemaker.delete_model(ModelName="plugin-model")
    with pytest.raises(ClientError) as wrong:
        api_client("sagemaker", url, secret="not-the-secret").list_models()
    assert wrong.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    unsigned = urllib.request.Request(url + "/", data=b"{}", headers={"X-Amz-Target": "SageMaker.ListModels"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(unsigned, timeout=10)
    assert refused.value.code == 403


def test_no_dag_has_an_import_error(lifecycle_run):
    errors = lifecycle_run["stack"].api("GET", "/api/v2/importErrors")
    assert errors["total_entries"] == 0, errors


def test_a_rest_triggered_run_with_the_form_conf_succeeds(lifecycle_run):
    stack, run_id = lifecycle_run["stack"], lifecycle_run["run_id"]
    tasks = stack.api("GET", f"/api/v2/dags/retrain_and_deploy/dagRuns/{run_id}/taskInstances")["task_instances"]
    states = {t["task_id"]: t["state"] for t in tasks}
    assert lifecycle_run["state"] == "success", f"{states}\n{stack.log_tails()}"
    optional = {"build_processing_image", "push_processing_image", "split_raw_data", "tune"}  # off in the form
    assert {t: s for t, s in states.items() if t in optional} == dict.fromkeys(optional, "skipped"), states
    assert {s for t, s in states.items() if t not in optional} == {"success"}, states

    manifest = _version_of_run(lifecycle_run["ml_home"], run_id)
    assert manifest["lineage"]["hyperparameters"]["l2"] == "0.05"
    assert manifest["lineage"]["quality_gate"]["passed"] is True
    record = json.loads((lifecycle_run["ml_home"] / "endpoints" / f"{lifecycle_run['endpoint']}.json").read_text())
    assert record["model_uri"] == manifest["uri"]


def test_the_extra_links_of_the_run(lifecycle_run):
    stack, run_id, home = lifecycle_run["stack"], lifecycle_run["run_id"], lifecycle_run["ml_home"]

    def links(task_id: str) -> dict:
        path = f"/api/v2/dags/retrain_and_deploy/dagRuns/{run_id}/taskInstances/{task_id}/links"
        return stack.api("GET", path)["extra_links"]

    assert links("push_image")["Image"] == "http://127.0.0.1:5000/v2/ml-lifecycle/linear/tags/list"
    train = links("train")
    assert train["Job logs"].startswith(f"file://{home}/logs/jobs/retrain-and-deploy-train-")
    assert train["Training artifacts"].startswith(f"file://{home}/artifacts/training/")
    assert train["Instances"] in ("", None)  # a local job has no EC2 instances
    version = _version_of_run(home, run_id)["version"]
    assert links("export_model")["Model version"] == f"file://{home}/artifacts/registry/linear/{version}/"
    assert links("batch_transform")["Predictions"].startswith(f"file://{home}/artifacts/predictions/")
    record = json.loads((home / "endpoints" / f"{lifecycle_run['endpoint']}.json").read_text())
    assert links("deploy_endpoint")["Endpoint"] == record["url"]


def test_the_model_asset_schedules_batch_scoring(lifecycle_run):
    stack = lifecycle_run["stack"]

    def scored() -> str | None:
        runs = stack.api("GET", "/api/v2/dags/batch_scoring/dagRuns")["dag_runs"]
        done = [r for r in runs if r["run_type"] == "asset_triggered" and r["state"] in ("success", "failed")]
        return done[0]["state"] if done else None

    assert stack.wait_for("an asset-triggered batch_scoring run", scored, RUN_TIMEOUT_S, 3) == "success"
    outputs = list((lifecycle_run["ml_home"] / "artifacts" / "predictions" / "scoring").glob("*/score.csv.out"))
    assert outputs, "the asset-triggered run wrote no predictions"


def test_the_plugin_page_in_a_browser(lifecycle_run):
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: run scripts/setup-browser.sh")
    from playwright.sync_api import expect, sync_playwright

    stack = lifecycle_run["stack"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.goto(f"{stack.url}/", wait_until="networkidle")
            nav = page.get_by_role("link", name="ML lifecycle").or_(page.get_by_role("button", name="ML lifecycle"))
            expect(nav.first).to_be_visible(timeout=60_000)
            nav.first.click()
            frame = page.frame_locator("iframe").first
            number = _version_of_run(lifecycle_run["ml_home"], lifecycle_run["run_id"])["version"]
            version = frame.locator(f'tr.version[data-version="{number}"]')
            expect(version).to_be_visible(timeout=60_000)
            expect(version.locator('[data-metric="validation_rmse"]')).to_contain_text("validation_rmse = ")
            expect(frame.locator("svg.ml-chart polyline.series").first).to_be_attached()
            expect(frame.locator("tr.endpoint").filter(has_text=lifecycle_run["endpoint"])).to_contain_text(
                "answers /ping"
            )
            page.screenshot(path=str(ARTIFACTS / "ml-lifecycle-in-airflow-ui.png"), full_page=True)

            direct = browser.new_page(viewport={"width": 1400, "height": 1100})
            direct.goto(f"{stack.url}/ml-lifecycle/")
            expect(direct.locator("svg.ml-chart").first).to_be_visible()
            direct.screenshot(path=str(ARTIFACTS / "ml-lifecycle-page.png"), full_page=True)
        finally:
            browser.close()
    assert (ARTIFACTS / "ml-lifecycle-page.png").stat().st_size > 10_000
