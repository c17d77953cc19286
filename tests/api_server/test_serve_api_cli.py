"""`ml-lifecycle serve-api` runs the API on its own, configured by the environment (its state under the artifact
root, the credentials connection named by ML_LIFECYCLE_API_CREDENTIALS_CONN_ID)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from support.api_server import API_KEY, API_SECRET, api_client
from support.helpers import wait_until
from support.moto import answers, free_port


def test_serve_api_answers_signed_requests_and_keeps_its_state_under_the_artifact_root(tmp_path):
    port = free_port()
    connection = json.dumps({"conn_type": "generic", "login": API_KEY, "password": API_SECRET})
    env = {
        **os.environ,
        "ML_LIFECYCLE_HOME": str(tmp_path / "home"),
        "ML_LIFECYCLE_API_CREDENTIALS_CONN_ID": "my_api_keys",
        "AIRFLOW_CONN_MY_API_KEYS": connection,
    }
    env.pop("ML_LIFECYCLE_ARTIFACT_ROOT", None)
    cli = str(Path(sys.executable).with_name("ml-lifecycle"))
    with (tmp_path / "api.log").open("wb") as log:
        server = subprocess.Popen(
            [cli, "serve-api", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            assert server.poll() is None, (tmp_path / "api.log").read_text()
            return answers(url + "/")

        wait_until(up, f"the API to answer on {url}", 60, interval_s=0.1)
        sagemaker = api_client("sagemaker", url)
        model = {"Image": "ml-lifecycle-test/linear:test", "ModelDataUrl": "s3://bucket/model.tar.gz"}
        sagemaker.create_model(ModelName="cli-model", PrimaryContainer=model)
        assert [m["ModelName"] for m in sagemaker.list_models()["Models"]] == ["cli-model"]
    finally:
        server.terminate()
        server.wait(timeout=30)
    stored = tmp_path / "home" / "artifacts" / "sagemaker-api" / "models" / "cli-model" / "resource.json"
    assert json.loads(stored.read_text())["request"]["ModelName"] == "cli-model"
