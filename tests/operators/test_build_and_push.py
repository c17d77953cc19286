"""BuildImageOperator and PushToECROperator against the real engine and a real registry on 127.0.0.1:5000."""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
import uuid

import pytest
from support.helpers import task_context

from ml_lifecycle import BuildImageOperator, PushToECROperator
from ml_lifecycle.compute.image_build import BuildFailed
from ml_lifecycle.errors import SpecError

pytestmark = pytest.mark.docker


@pytest.fixture
def context_dir(tmp_path, example_image):
    """A copy of the example build context (example_image makes sure the base image exists)."""
    target = tmp_path / "ctx"
    shutil.copytree("examples/containers/linear", target)
    return target


def _build(context_dir, repository: str = "ml-lifecycle-test/build") -> dict:
    """Run BuildImageOperator on a context.

    :param context_dir: the build context.
    :param repository: the repository name.
    """
    return BuildImageOperator(task_id="build", context_path=str(context_dir), repository=repository).execute(
        task_context()
    )


def test_an_unchanged_context_is_not_built_again(context_dir, docker_client):
    first = _build(context_dir)
    since = time.time()
    second = _build(context_dir)
    events = docker_client.events(since=since, until=time.time() + 0.5, decode=True)
    builds = [e for e in events if e.get("Type") == "container" and e.get("Action") == "create"]

    assert second["built"] is False
    assert (second["image"], second["image_id"]) == (first["image"], first["image_id"])
    assert builds == []

    (context_dir / "program" / "extra.txt").write_text(f"a change {uuid.uuid4()}")  # new to this engine
    third = _build(context_dir)
    assert third["built"] is True and third["content_hash"] != first["content_hash"]


def test_dockerignored_files_do_not_change_the_hash(context_dir):
    first = _build(context_dir)
    (context_dir / ".dockerignore").write_text((context_dir / ".dockerignore").read_text() + "\nscratch/\n")
    second = _build(context_dir)
    (context_dir / "scratch").mkdir()
    (context_dir / "scratch" / "notes.txt").write_text("ignored")
    third = _build(context_dir)
    assert second["content_hash"] == third["content_hash"]
    assert first["content_hash"] != second["content_hash"]


def test_a_failing_build_names_the_step(tmp_path, example_image):
    (tmp_path / "Dockerfile").write_text("FROM python:3.11-slim\nRUN echo about to fail && exit 7\n")
    with pytest.raises(BuildFailed, match=r"step 2/2 .*exit 7|returned a non-zero code: 7"):
        _build(tmp_path)


def test_push_hands_the_image_on_by_digest(context_dir, registry, docker_client):
    built = _build(context_dir)
    pushed = PushToECROperator(
        task_id="push", image=built["image"], repository="ml-lifecycle-test/pushed", registry=registry
    ).execute(task_context())

    assert pushed["image_uri"].startswith(f"{registry}/ml-lifecycle-test/pushed@sha256:")
    manifest_request = urllib.request.Request(
        f"http://{registry}/v2/ml-lifecycle-test/pushed/manifests/{pushed['tag']}",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
        method="HEAD",
    )
    with urllib.request.urlopen(manifest_request, timeout=5) as response:
        assert response.headers["Docker-Content-Digest"] == pushed["digest"]
    again = PushToECROperator(
        task_id="push", image=built["image"], repository="ml-lifecycle-test/pushed", registry=registry
    ).execute(task_context())
    assert again["image_uri"] == pushed["image_uri"]
    json.dumps(pushed)


@pytest.mark.parametrize("repository", ["127.0.0.1:5000/x/y", "x/y:tag", "UPPER"])
def test_push_refuses_a_repository_with_registry_or_tag(repository):
    with pytest.raises(SpecError, match="repository"):
        PushToECROperator(task_id="push", image="img:1", repository=repository)
