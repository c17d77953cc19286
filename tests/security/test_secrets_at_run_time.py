"""Secrets reach the container's environment unchanged, from each source, and appear nowhere else.

Sources: an Airflow connection field and extra, an Airflow variable (both from AIRFLOW_CONN_/AIRFLOW_VAR_
environment variables, as a secrets backend serves them), Secrets Manager (whole and one JSON key) and an SSM
SecureString, the last two on a moto server. moto does not check IAM policies or KMS decryption: that the role
may read them is not tested here. The values are hostile (quotes, newlines, ``$(...)``, backticks): the container
proves it received them byte for byte by writing their sha256, never the values, and nothing runs them.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
import uuid
from pathlib import Path

import boto3
import pytest
from support.helpers import inspected_on_start, task_context

from ml_lifecycle import BatchTransformOperator, TrainOnEC2Operator
from ml_lifecycle.secret_sources.values import SecretUnavailable

pytestmark = pytest.mark.docker

REGION = "us-east-1"
PWNED = Path(f"/tmp/mlc-pwned-{uuid.uuid4().hex[:8]}")
HOSTILE = {
    "CONN_PASSWORD": f"p'a\"ss$(touch {PWNED})`touch {PWNED}`\nsecond line",
    "CONN_TOKEN": "tok;en && touch " + str(PWNED),
    "VAR_VALUE": "v a r\t$HOME ${PATH} \\n",
    "SECRETSMANAGER_WHOLE": '{"user": "admin", "password": "s3cr\'et$(id)"}',
    "SECRETSMANAGER_KEY": "s3cr'et$(id)",
    "SSM_VALUE": "ssm-😀-$(reboot)",
}
# The container writes the sha256 of each secret it got, one file per name, never a value.
HASH_SECRETS = (
    'for name in $SECRET_NAMES; do printenv "$name" | head -c -1 | sha256sum | cut -d" " -f1 '
    '> "/opt/ml/model/sha-$name"; done'
)


@pytest.fixture
def secret_sources(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Every source holds one hostile value; returns name -> reference."""
    suffix = uuid.uuid4().hex[:8]
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEFAULT",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"endpoint_url": moto_server, "region_name": REGION},
            }
        ),
    )
    monkeypatch.setenv(
        f"AIRFLOW_CONN_DB_{suffix.upper()}",
        json.dumps(
            {
                "conn_type": "postgres",
                "login": "app",
                "password": HOSTILE["CONN_PASSWORD"],
                "extra": {"api_token": HOSTILE["CONN_TOKEN"]},
            }
        ),
    )
    monkeypatch.setenv(f"AIRFLOW_VAR_DB_{suffix.upper()}", HOSTILE["VAR_VALUE"])
    secrets = boto3.client("secretsmanager", endpoint_url=moto_server, region_name=REGION)
    arn = secrets.create_secret(Name=f"prod/db-{suffix}", SecretString=HOSTILE["SECRETSMANAGER_WHOLE"])["ARN"]
    ssm = boto3.client("ssm", endpoint_url=moto_server, region_name=REGION)
    ssm.put_parameter(Name=f"/prod/{suffix}/value", Value=HOSTILE["SSM_VALUE"], Type="SecureString")
    return {
        "CONN_PASSWORD": f"conn:db_{suffix}/password",
        "CONN_TOKEN": f"conn:db_{suffix}/extra/api_token",
        "VAR_VALUE": f"var:db_{suffix}",
        "SECRETSMANAGER_WHOLE": f"secretsmanager:prod/db-{suffix}",
        "SECRETSMANAGER_KEY": f"{arn}:password::",
        "SSM_VALUE": f"ssm:/prod/{suffix}/value",
    }


def _sha(value: str) -> str:
    """Return a value's sha256, as the container computes it.

    :param value: the value.
    """
    return hashlib.sha256(value.encode()).hexdigest()


def _files_under(*folders: Path) -> dict[Path, bytes]:
    """Read every file below the folders.

    :param folders: the folders.
    """
    return {path: path.read_bytes() for folder in folders for path in folder.rglob("*") if path.is_file()}


def _leaks(haystacks: dict[str, bytes]) -> list[str]:
    """Return where any hostile value (or a line of one) appears.

    :param haystacks: place -> its bytes.
    """
    needles = {piece for value in HOSTILE.values() for piece in [value, *value.splitlines()] if len(piece) >= 6}
    return [f"{name} in {place}" for place, data in haystacks.items() for name in needles if name.encode() in data]


def test_secrets_from_every_source_reach_the_container_unchanged_and_nowhere_else(
    secret_sources, example_image, sample_data, tmp_path, ml_home, capfd, caplog
):
    operator = TrainOnEC2Operator(
        task_id="train",
        image_uri=example_image,
        channels={"train": f"file://{sample_data}/train"},
        output_path=f"file://{tmp_path / 'out'}",
        entrypoint=["sh", "-c", HASH_SECRETS],
        environment={"SECRET_NAMES": " ".join(secret_sources)},
        secrets=secret_sources,
        max_runtime_s=300,
    )
    result = operator.execute(task_context(task_id="train"))

    model = tmp_path / "out" / result["job_name"] / "output" / "model.tar.gz"
    with tarfile.open(model) as tar:
        got = {m.name: tar.extractfile(m).read().decode().strip() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
    assert got == {f"sha-{name}": _sha(value) for name, value in HOSTILE.items()}
    assert not PWNED.exists(), "a secret value was run by a shell"

    captured = capfd.readouterr()
    places = {
        "xcom": json.dumps(result).encode(),
        "rendered template fields": json.dumps(
            {f: str(getattr(operator, f)) for f in operator.template_fields}
        ).encode(),
        "stdout": captured.out.encode(),
        "stderr": captured.err.encode(),
        "task log": caplog.text.encode(),
        **{str(path): data for path, data in _files_under(ml_home, tmp_path / "out").items() if path != model},
    }
    assert _leaks(places) == []


def test_a_secret_that_cannot_be_read_fails_before_anything_starts_naming_the_reference(
    secret_sources, example_image, sample_data, tmp_path, ml_home, docker_client
):
    operator = TrainOnEC2Operator(
        task_id="train",
        image_uri=example_image,
        channels={"train": f"file://{sample_data}/train"},
        output_path=f"file://{tmp_path / 'out'}",
        secrets={"GOOD": secret_sources["SSM_VALUE"], "MISSING": "ssm:/nowhere/at-all", "NOVAR": "var:nope_x"},
    )
    with pytest.raises(SecretUnavailable) as refused:
        operator.execute(task_context(task_id="train"))

    text = str(refused.value)
    assert "ssm '/nowhere/at-all'" in text and "ParameterNotFound" in text
    assert "Airflow variable 'nope_x'" in text and "Create the Airflow variable" in text
    assert HOSTILE["SSM_VALUE"] not in text
    assert not (tmp_path / "out").exists()
    assert not (ml_home / "logs" / "jobs").exists() or list((ml_home / "logs" / "jobs").iterdir()) == []


def test_a_transform_gets_its_secrets_too(secret_sources, example_image, tmp_path, ml_home, docker_client):
    from support.models import linear_model_archive

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "part.csv").write_text("1,1,1,1,1,1,1,1\n")
    model = linear_model_archive(tmp_path / "model" / "model.tar.gz", [1.0] * 8)
    with inspected_on_start(docker_client, kind="transform") as inspections:
        result = BatchTransformOperator(
            task_id="transform",
            image_uri=example_image,
            model_uri=model,
            input_uri=f"file://{tmp_path}/in",
            output_uri=f"file://{tmp_path}/out",
            content_type="text/csv",
            secrets={"SSM_VALUE": secret_sources["SSM_VALUE"]},
        ).execute(task_context(task_id="transform"))
    # The container's environment as the engine started it, hashed here: the value is not kept.
    seen = [_sha(e.partition("=")[2]) for i in inspections for e in i["Config"]["Env"] if e.startswith("SSM_VALUE=")]
    assert result["status"] == "Completed"
    assert seen == [_sha(HOSTILE["SSM_VALUE"])]
    assert _leaks(_files_under(tmp_path / "out", ml_home)) == []
