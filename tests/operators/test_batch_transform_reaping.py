"""A local batch transform's serving containers as the reaper sees them: the ownership labels and no deadline label
(nothing bounds a transform's runtime), a record naming the runner; kept while the runner lives, reaped once it is
gone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from support.helpers import managed_containers
from support.models import linear_model_archive

from ml_lifecycle import settings
from ml_lifecycle.compute.local.agent_identity import process_identity
from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine
from ml_lifecycle.compute.local.reaper import DEADLINE, reap
from ml_lifecycle.compute.local.transform.runner import TransformRunner
from ml_lifecycle.compute.records import read_record
from ml_lifecycle.core import labels
from ml_lifecycle.core.job_kinds import transform_record_uri
from ml_lifecycle.core.specs import TransformSpec
from ml_lifecycle.core.status import JobRecord
from ml_lifecycle.core.uris import parse_uri
from ml_lifecycle.stores import store_for

pytestmark = pytest.mark.docker

STARTED = "objects on"  # in the runner's line once its containers answer /ping
KILLED_RUN = r"""
import json, sys
from ml_lifecycle import settings
from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine
from ml_lifecycle.compute.local.transform.runner import TransformRunner
from ml_lifecycle.core.specs import TransformSpec
from ml_lifecycle.stores import store_for
spec = TransformSpec(**json.loads(sys.argv[1]))
def sink(line):
    print(line, flush=True)
    if "objects on" in line:
        sys.stdin.read()  # the test kills this process here, its containers up
TransformRunner(DockerEngine(), store_for, settings.work_dir(), settings.serving_host()).run(spec, sys.argv[2], {"ml-lifecycle.dag-id": sys.argv[3]}, sink)
"""


def _spec(image: str, tmp_path: Path) -> TransformSpec:
    """Make a small transform of the linear model.

    :param image: the serving image.
    :param tmp_path: the test's folder (model, input and output below it).
    """
    model_uri = linear_model_archive(tmp_path / "model" / "model.tar.gz", [1.0] * 8, intercept=0.5)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text("".join(",".join(["1"] * 8) + "\n" for _ in range(20)))
    return TransformSpec(
        image_uri=image,
        model_uri=model_uri,
        input_uri=f"file://{tmp_path}/in",
        output_uri=f"file://{tmp_path}/out",
        content_type="text/csv",
        instance_count=2,
    )


def _finder(spec: TransformSpec) -> Any:
    """Return a record finder for the reaper: the transform's record beside its outputs.

    :param spec: the transform spec.
    """

    def find(job: str) -> JobRecord | None:
        uri = parse_uri(transform_record_uri(spec.output_uri, job))
        return read_record(store_for(uri), uri)

    return find


def test_a_running_transform_carries_our_labels_no_deadline_and_is_kept_past_any_age(
    example_image, tmp_path, ml_home, docker_client
):
    spec = _spec(example_image, tmp_path)
    job = f"reaping-{uuid.uuid4().hex[:8]}"
    seen: dict[str, Any] = {}

    def sink(line: str) -> None:
        if STARTED not in line or seen:
            return
        seen["labels"] = [c.labels for c in managed_containers(docker_client, job=job)]
        seen["record"] = _finder(spec)(job)
        # Older than a max_job_age_s of 0, yet kept: its runner, this process, lives.
        seen["reaped"] = reap(
            DockerEngine(),
            _finder(spec),
            settings.work_dir(),
            max_job_age_s=0,
            match_labels={labels.JOB: job},
            dry_run=True,
        )

    record = TransformRunner(DockerEngine(), store_for, settings.work_dir(), settings.serving_host()).run(
        spec, job, {"ml-lifecycle.dag-id": "reaping"}, sink
    )

    assert record.status == "Completed"
    assert sorted(found[labels.HOST] for found in seen["labels"]) == ["algo-1", "algo-2"]
    for found in seen["labels"]:
        assert {k: found[k] for k in (labels.MANAGED, labels.KIND, labels.JOB)} == {
            labels.MANAGED: "true",
            labels.KIND: "transform",
            labels.JOB: job,
        }
        assert DEADLINE not in found  # see the comment at run_labels in agent/transform.py
    assert seen["record"].status == "InProgress"
    assert seen["record"].agent == process_identity()
    assert seen["reaped"] == []
    assert managed_containers(docker_client, job=job) == []


def test_the_containers_of_a_transform_whose_runner_was_killed_are_reaped(
    example_image, tmp_path, ml_home, docker_client
):
    spec = _spec(example_image, tmp_path)
    job = f"reaping-killed-{uuid.uuid4().hex[:8]}"
    runner = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN, json.dumps(asdict(spec)), job, "reaping"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=os.environ.copy(),
    )
    try:
        output = []
        for line in runner.stdout:  # type: ignore[union-attr]
            output.append(line)
            if STARTED in line:
                break
        assert len(managed_containers(docker_client, job=job)) == 2, "".join(output)
        runner.kill()
        runner.wait()

        reaped = reap(
            DockerEngine(),
            _finder(spec),
            settings.work_dir(),
            max_job_age_s=24 * 3600,
            match_labels={labels.JOB: job},
        )

        assert [(r.job, r.reason) for r in reaped] == [
            (job, "its record says InProgress and its runner is gone (a transform is never resumed)")
        ]
        assert managed_containers(docker_client, job=job) == []
        assert not (settings.work_dir() / "jobs" / job).exists()
    finally:
        runner.kill()
        runner.wait()
        for container in managed_containers(docker_client, job=job):
            container.remove(force=True)
