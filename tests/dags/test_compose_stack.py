"""docker-compose.yaml: it validates alone and with docker-compose.offline.yaml, and the Airflow image it builds (on
the offline base) holds the three DAGs. tests/dags/test_compose_up.py runs the stack itself and uses the helpers here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGE = "airflow-ml-lifecycle:compose-test"
OFFLINE_FILES = ["-f", "docker-compose.yaml", "-f", "docker-compose.offline.yaml"]
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
AIRFLOW_SERVICES = {
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
}


def compose_command() -> list[str]:
    """Return the compose command line: ``docker compose`` or Debian's ``docker-compose``; fail or skip without."""
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    message = "no compose CLI: run scripts/setup-compose.sh"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _config(*files: str, env: dict[str, str] | None = None) -> dict:
    """Return the compose files as the CLI resolves them (variables substituted, anchors merged, overrides applied).

    :param files: ``-f`` options, or none for docker-compose.yaml alone.
    :param env: the environment the CLI substitutes from; None for this process's.
    """
    result = subprocess.run(
        [*compose_command(), *files, "config"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={**(os.environ if env is None else env), "PWD": str(REPO_ROOT)},
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_the_compose_file_validates_and_has_the_stack():
    services = _config()["services"]
    assert AIRFLOW_SERVICES | {"postgres", "minio", "registry"} <= set(services)
    for name in AIRFLOW_SERVICES:
        service = services[name]
        assert service["build"]["dockerfile"] == "docker/airflow.Dockerfile"
        environment = service["environment"]
        assert environment["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
        assert environment["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
        assert json.loads(environment["AIRFLOW_CONN_AWS_DEFAULT"])["extra"]["endpoint_url"] == "http://127.0.0.1:9000"
        assert any("/var/run/docker.sock" in str(volume) for volume in service["volumes"])
    assert services["airflow-apiserver"]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    assert "compose_init.py" in " ".join(services["airflow-init"]["command"])
    assert services["registry"]["image"] == "registry:2"


@pytest.mark.parametrize("files", [(), tuple(OFFLINE_FILES)], ids=["base", "offline"])
@pytest.mark.parametrize(("variable", "expected"), [(None, "True"), ("False", "False"), ("True", "True")])
def test_the_dags_are_paused_at_creation_unless_the_variable_says_otherwise(
    files: tuple[str, ...], variable: str | None, expected: str
):
    env = {k: v for k, v in os.environ.items() if k != "AIRFLOW_DAGS_PAUSED_AT_CREATION"}
    if variable is not None:
        env["AIRFLOW_DAGS_PAUSED_AT_CREATION"] = variable
    services = _config(*files, env=env)["services"]
    paused = {
        name: str(services[name]["environment"]["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"])
        for name in AIRFLOW_SERVICES
    }
    assert paused == dict.fromkeys(AIRFLOW_SERVICES, expected)


def test_the_offline_override_builds_the_three_services_from_the_base_and_keeps_the_stack():
    services = _config(*OFFLINE_FILES)["services"]
    assert AIRFLOW_SERVICES | {"postgres", "minio", "registry"} <= set(services)
    dockerfiles = {"postgres": "postgres.Dockerfile", "minio": "s3.Dockerfile", "registry": "registry.Dockerfile"}
    for name, dockerfile in dockerfiles.items():
        build = services[name]["build"]
        assert Path(build["context"]) == REPO_ROOT / "docker"
        assert build["dockerfile"] == f"offline/{dockerfile}"
        assert build["args"]["BASE_IMAGE"] == os.environ.get("BASE_IMAGE", "python:3.11-slim")
        assert (REPO_ROOT / "docker" / "offline" / dockerfile).read_text().count("FROM ${BASE_IMAGE}") == 1
        assert not services[name]["image"].startswith(("postgres:", "minio/", "registry:"))
        assert services[name]["healthcheck"]["test"][0] == "CMD"
    assert services["postgres"]["healthcheck"]["test"] == ["CMD", "pg_isready", "-U", "airflow"]
    assert services["minio"]["command"][0] == "moto_server"
    assert "ListAllMyBucketsResult" in " ".join(services["minio"]["healthcheck"]["test"])
    assert "/v2/" in " ".join(services["registry"]["healthcheck"]["test"])
    # The Airflow services are the base file's, on the same ports and volumes.
    for name in AIRFLOW_SERVICES:
        environment = services[name]["environment"]
        assert services[name]["build"]["dockerfile"] == "docker/airflow.Dockerfile"
        assert environment["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@127.0.0.1:5433/airflow")
        assert json.loads(environment["AIRFLOW_CONN_AWS_DEFAULT"])["extra"]["endpoint_url"] == "http://127.0.0.1:9000"
        assert environment["ML_LIFECYCLE_S3_CONSOLE"] == "http://localhost:9000/moto-api/"
    assert "compose_init.py" in " ".join(services["airflow-init"]["command"])


def test_the_host_ports_follow_the_environment():
    ports = {
        "AIRFLOW_PORT": 18080,
        "AIRFLOW_SCHEDULER_HEALTH_PORT": 18974,
        "POSTGRES_PORT": 15433,
        "S3_PORT": 19000,
        "S3_CONSOLE_PORT": 19001,
        "REGISTRY_PORT": 15000,
    }
    result = subprocess.run(
        [*compose_command(), *OFFLINE_FILES, "config"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PWD": str(REPO_ROOT), **{k: str(v) for k, v in ports.items()}},
    )
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    published = {
        (name, str(port.get("published")) if isinstance(port, dict) else str(port).split(":")[1])
        for name in ("postgres", "minio", "registry")
        for port in services[name]["ports"]
    }
    assert published == {("postgres", "15433"), ("minio", "19000"), ("minio", "19001"), ("registry", "15000")}
    environment = services["airflow-scheduler"]["environment"]
    assert environment["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18080/execution/"
    assert str(environment["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT"]) == "18974"
    assert json.loads(environment["AIRFLOW_CONN_AWS_DEFAULT"])["extra"]["endpoint_url"] == "http://127.0.0.1:19000"
    assert "18080" in services["airflow-apiserver"]["command"]
    assert "18080" in " ".join(services["airflow-apiserver"]["healthcheck"]["test"])
    assert "18974" in " ".join(services["airflow-scheduler"]["healthcheck"]["test"])


@cache
def build_airflow_image(docker_client: Any) -> str:
    """Build the compose file's Airflow image on the base image (built offline when missing); return its tag.

    Once per test session: the compose tests share the image.
    """
    base = os.environ.get("BASE_IMAGE", "python:3.11-slim")
    try:
        docker_client.images.get(base)
    except Exception:
        subprocess.run(["bash", str(REPO_ROOT / "scripts" / "bootstrap.sh"), "base-image"], check=True)
    extras = REPO_ROOT / "docker" / "build-extras" / "ca-certificates.crt"
    if HOST_CA_BUNDLE.is_file() and not extras.exists():
        shutil.copy(HOST_CA_BUNDLE, extras)  # pip in the build trusts what this host trusts
    env = {**os.environ, "AIRFLOW_IMAGE_NAME": IMAGE, "BASE_IMAGE": base, "PWD": str(REPO_ROOT)}
    build = subprocess.run(
        [*compose_command(), "build", "airflow-init"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert build.returncode == 0, (build.stdout + build.stderr)[-4000:]
    return IMAGE


@pytest.mark.docker
@pytest.mark.timeout(1800)
def test_the_compose_image_builds_on_the_offline_base_and_lists_the_three_dags(docker_client):
    build_airflow_image(docker_client)

    listed = subprocess.run(
        [
            "docker", "run", "--rm",
            "-e", "AIRFLOW__CORE__LOAD_EXAMPLES=False",
            "-e", "ML_LIFECYCLE_ARTIFACT_ROOT=s3://ml-lifecycle",
            IMAGE, "bash", "-c", "airflow db migrate > /dev/null && airflow dags list --local --output json",
        ],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert listed.returncode == 0, (listed.stdout + listed.stderr)[-4000:]
    table = next(line for line in listed.stdout.splitlines() if line.startswith("[{"))
    dags = {d["dag_id"] for d in json.loads(table)}
    assert {"retrain_and_deploy", "batch_scoring", "reap_orphans"} <= dags
