"""DeployEndpointOperator(deferrable=True) on the local engine: a local deploy has no long wait, so it never defers."""

from __future__ import annotations

import urllib.request
import uuid
from pathlib import Path

import pytest
from support.helpers import task_context
from support.models import linear_model_archive

from ml_lifecycle import DeleteEndpointOperator, DeployEndpointOperator


@pytest.mark.docker
def test_a_deferrable_local_deploy_serves_without_deferring(example_image: str, tmp_path: Path, ml_home: Path) -> None:
    name = f"ep-{uuid.uuid4().hex[:8]}"
    model = linear_model_archive(tmp_path / "model.tar.gz", [1.0] * 8)
    try:
        deployed = DeployEndpointOperator(
            task_id="deploy", endpoint_name=name, image_uri=example_image, model_uri=model, deferrable=True
        ).execute(task_context())  # a TaskDeferred here would fail the test
        with urllib.request.urlopen(f"{deployed['url']}/ping", timeout=5) as ping:
            assert ping.status == 200
    finally:
        DeleteEndpointOperator(task_id="delete", endpoint_name=name).execute(task_context())
