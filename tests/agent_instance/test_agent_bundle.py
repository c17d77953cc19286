"""The agent bundle: reproducible, pruned, free of compiled code, and runnable with nothing else installed."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tarfile

from ml_lifecycle.compute.ec2.agent_bundle import SERVICES, build_agent_bundle

IMPORT_EVERYTHING = """
import importlib, pkgutil, sys
import ml_lifecycle.agent.instance.__main__
failed = []
for module in pkgutil.walk_packages(ml_lifecycle.__path__, "ml_lifecycle."):
    try:
        importlib.import_module(module.name)
    except Exception as err:
        failed.append(f"{module.name}: {err!r}")
import boto3
for service in ("s3", "ec2", "ecr", "logs", "sts"):
    boto3.session.Session(region_name="eu-west-1", aws_access_key_id="k", aws_secret_access_key="s").client(service)
import docker, requests
print(sorted({m.split(".")[0] for m in sys.modules} & {"airflow", "pendulum", "sqlalchemy"}), failed)
"""


def test_the_bundle_is_reproducible_and_reused(tmp_path):
    first = build_agent_bundle(tmp_path / "a")
    second = build_agent_bundle(tmp_path / "b")
    assert hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(second.read_bytes()).digest()
    assert first.name == second.name
    mtime_ns = first.stat().st_mtime_ns
    assert build_agent_bundle(tmp_path / "a") == first and first.stat().st_mtime_ns == mtime_ns
    assert not [p.name for p in (tmp_path / "a").iterdir() if p != first]


def test_the_bundle_holds_only_what_the_agent_needs(tmp_path):
    with tarfile.open(build_agent_bundle(tmp_path)) as tar:
        members = tar.getmembers()
    names = {m.name for m in members}
    assert {m.mtime for m in members} == {members[0].mtime} and {m.uid for m in members} == {0}
    assert not [n for n in names if n.endswith((".so", ".pyc", ".pyd")) or "__pycache__" in n]
    services = {n.split("/")[2] for n in names if n.startswith("botocore/data/") and n.count("/") > 2}
    assert services == SERVICES
    assert "botocore/data/endpoints.json" in names and "certifi/cacert.pem" in names
    assert "ml_lifecycle/agent/instance/__main__.py" in names
    assert not [n for n in names if n in ("ml_lifecycle/train_on_ec2.py", "ml_lifecycle/plugin.py")]
    assert not [n for n in names if n.startswith(("ml_lifecycle/web/", "ml_lifecycle/triggers/"))]


def test_the_unpacked_bundle_imports_with_only_the_standard_library(tmp_path):
    with tarfile.open(build_agent_bundle(tmp_path / "cache")) as tar:
        tar.extractall(tmp_path / "agent", filter="data")
    # -S: no site-packages at all; -I would also drop PYTHONPATH, so the path is set inside.
    result = subprocess.run(
        [
            sys.executable,
            "-S",
            "-I",
            "-c",
            f"import sys; sys.path[:0] = [{str(tmp_path / 'agent')!r}]\n" + IMPORT_EVERYTHING,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[] []"
