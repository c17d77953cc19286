"""Run SageMaker Python SDK v2 code (tests/sdk/sdk_scenarios.py) in the SDK's own virtualenv against our API."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from support.api_server import API_KEY, API_SECRET

REPO_ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = REPO_ROOT / "tests" / "sdk" / "sdk_scenarios.py"
RESULT_PREFIX = "SDK-RESULT "


def sdk_python() -> Path:
    """Return the SDK virtualenv's python (scripts/setup-sdk.sh makes it), or skip (fail under CI) without it."""
    python = Path(os.environ.get("SDK_VENV") or REPO_ROOT / ".venv-sdk") / "bin" / "python"
    if not python.exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI installs the SageMaker SDK (scripts/setup-sdk.sh); {python} is missing")
        pytest.skip(f"no SageMaker SDK virtualenv at {python}: run scripts/setup-sdk.sh")
    return python


def sdk_environment(api_url: str, moto_url: str) -> dict[str, str]:
    """Return the environment a user of the SDK sets to talk to our API (and to S3 in moto).

    :param api_url: our API's URL.
    :param moto_url: moto's URL (S3, STS).
    """
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AIRFLOW"))}
    return {
        **environment,
        "AWS_ACCESS_KEY_ID": API_KEY,
        "AWS_SECRET_ACCESS_KEY": API_SECRET,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_SAGEMAKER": api_url,
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": api_url,
        "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": api_url,
        "AWS_ENDPOINT_URL_S3": moto_url,
        "AWS_ENDPOINT_URL_STS": moto_url,
    }


def run_scenario(name: str, arguments: dict[str, Any], api_url: str, moto_url: str, tmp_path: Path) -> dict[str, Any]:
    """Run one scenario with the SDK; return what it printed as its result (its output is kept in tmp_path).

    :param name: the scenario's function name.
    :param arguments: its arguments.
    :param api_url: our API's URL.
    :param moto_url: moto's URL.
    :param tmp_path: where its arguments and output go.
    """
    args_file = tmp_path / f"{name}-args.json"
    args_file.write_text(json.dumps(arguments))
    log = tmp_path / f"{name}.log"
    with log.open("wb") as out:
        done = subprocess.run(
            [str(sdk_python()), str(SCENARIOS), name, str(args_file)],
            env=sdk_environment(api_url, moto_url),
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=900,
        )
    output = log.read_text()
    assert done.returncode == 0, output[-6000:]
    line = next(line for line in output.splitlines() if line.startswith(RESULT_PREFIX))
    return dict(json.loads(line[len(RESULT_PREFIX) :]))
