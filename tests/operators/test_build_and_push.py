"""BuildImageOperator and PushToECROperator against the real engine and the real registry on 127.0.0.1:5000."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tarfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from docker.errors import ContainerError, ImageNotFound
from support.helpers import task_context

from ml_lifecycle import (
    BuildImageOperator,
    DeleteEndpointOperator,
    DeployEndpointOperator,
    PushToECROperator,
    TrainOnEC2Operator,
)
from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine
from ml_lifecycle.compute.local.images.build import BuildFailed, BuildRequest, reuse_or_build
from ml_lifecycle.errors import JobFailed, SpecError

pytestmark = pytest.mark.docker

SCRIPT_DIR = Path(__file__).with_name("script_model")


@pytest.fixture
def context_dir(tmp_path, example_image):
    """A copy of the example build context (example_image makes sure the base image exists)."""
    target = tmp_path / "ctx"
    shutil.copytree("examples/containers/linear", target)
    return target


def _repository() -> str:
    """A repository name no other test uses."""
    return f"ml-lifecycle-test/build-{uuid.uuid4().hex[:10]}"


def _build(context_dir: Path, repository: str = "ml-lifecycle-test/build", **kwargs: Any) -> dict:
    """Run BuildImageOperator on a context.

    :param context_dir: the build context.
    :param repository: the repository name.
    :param kwargs: more operator arguments.
    """
    return BuildImageOperator(task_id="build", context_path=str(context_dir), repository=repository, **kwargs).execute(
        task_context()
    )


def _build_activity(client: Any, since: float, repository: str, image_id: str) -> list[dict]:
    """The engine's events since a moment that a build of this image would cause: a tag of the repository, or a
    step container created from one of the image's own layers (other tests may use the engine meanwhile).

    :param client: the docker SDK client.
    :param since: the start (epoch seconds).
    :param repository: the repository built.
    :param image_id: the image.
    """
    base = {layer["Id"] for layer in client.api.history("python:3.11-slim")}
    own = {layer["Id"] for layer in client.api.history(image_id)} - base - {"<missing>"}
    events = client.events(since=since, until=time.time() + 1, decode=True)
    return [
        e
        for e in events
        if (e.get("Type") == "image" and e.get("Action") == "tag" and repository in e["Actor"]["Attributes"]["name"])
        or (e.get("Type") == "container" and e.get("Action") == "create" and e.get("from") in own)
    ]


def test_an_unchanged_context_is_not_built_again(context_dir, docker_client):
    # Layers of its own (a nonce after FROM), so containers other tests start are not mistaken for build steps.
    dockerfile = context_dir / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("\nLABEL ", f"\nLABEL test.nonce={uuid.uuid4().hex} ", 1))
    repository = _repository()
    since_first = time.time()
    first = _build(context_dir, repository)
    assert _build_activity(docker_client, since_first, repository, first["image_id"])  # the detector sees a build

    since = time.time()
    second = _build(context_dir, repository)

    assert second["built"] is False and second["found_in"] == "engine"
    assert (second["image"], second["image_id"]) == (first["image"], first["image_id"])
    assert _build_activity(docker_client, since, repository, first["image_id"]) == []

    (context_dir / "program" / "extra.txt").write_text(f"a change {uuid.uuid4()}")  # new to this engine
    third = _build(context_dir, repository)
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
    with pytest.raises(BuildFailed, match=r"step 2/\d+ .*exit 7[\s\S]*last lines[\s\S]*about to fail"):
        _build(tmp_path)


def test_build_args_target_platform_and_oci_labels(tmp_path, example_image, docker_client):
    (tmp_path / "Dockerfile").write_text(
        'FROM python:3.11-slim AS base\nARG GREETING=hello\nRUN echo "$GREETING" > /greeting\n'
        "FROM base AS extra\nRUN echo extra > /extra\n"
    )
    greeting = f"hi-{uuid.uuid4().hex[:8]}"
    args = {"build_args": {"GREETING": greeting}, "platform": "linux/amd64"}
    base = _build(tmp_path, _repository(), target="base", **args)
    full = _build(tmp_path, _repository(), **args)

    assert base["content_hash"] != full["content_hash"]
    shown = docker_client.containers.run(
        base["image"], ["sh", "-c", "cat /greeting; ls /extra 2>&1 || true"], remove=True
    )
    assert shown.decode().splitlines()[0] == greeting and "No such file" in shown.decode()
    image = docker_client.images.get(base["image"])
    labels = image.labels
    assert labels["ml-lifecycle.context-hash"] == base["content_hash"]
    assert labels["org.opencontainers.image.source"] and labels["org.opencontainers.image.revision"]
    assert labels["org.opencontainers.image.created"].endswith("Z")
    assert image.attrs["Architecture"] == "amd64"


def test_cache_from_reuses_the_layers_of_the_pushed_image(tmp_path, example_image, registry, docker_client):
    (tmp_path / "Dockerfile").write_text(
        f"FROM python:3.11-slim\nRUN echo {uuid.uuid4().hex} > /expensive\nCOPY app.txt /app.txt\n"
    )
    (tmp_path / "app.txt").write_text("v1")
    repository, cache = _repository(), f"{registry}/ml-lifecycle-test/cache-{uuid.uuid4().hex[:8]}"
    first = _build(tmp_path, repository)
    PushToECROperator(
        task_id="push", image=first["image"], repository=cache.split("/", 1)[1], registry=registry, tag="latest"
    ).execute(task_context())
    docker_client.images.remove(first["image_id"], force=True)  # the layers leave the engine with the image
    (tmp_path / "app.txt").write_text("v2")

    lines: list[str] = []
    request = BuildRequest(context_path=str(tmp_path), cache_from=[f"{cache}:latest"])
    second = reuse_or_build(DockerEngine(docker_client), request, repository=repository, sink=lines.append)

    assert second.built is True
    step = lines.index(next(line for line in lines if re.search(r"Step 2/\d+ : RUN echo", line)))
    assert "Using cache" in lines[step + 1]
    assert any(line.startswith(f"Pulled {cache}:latest") for line in lines)


def test_an_image_found_in_the_registry_is_not_built(context_dir, registry, docker_client):
    path = f"ml-lifecycle-test/hit-{uuid.uuid4().hex[:8]}"
    built = _build(context_dir, f"{registry}/{path}")
    pushed = PushToECROperator(task_id="push", image=built["image"], repository=path, registry=registry).execute(
        task_context()
    )
    docker_client.images.remove(built["image"], force=True)

    again = _build(context_dir, f"{registry}/{path}")

    assert again["built"] is False and again["found_in"] == "registry"
    assert again["image_uri"] == pushed["image_uri"]
    assert again["image_id"] == built["image_id"]
    pushed_again = PushToECROperator(task_id="push", image=again["image"], repository=path, registry=registry).execute(
        task_context()
    )
    assert pushed_again["pushed"] is False and pushed_again["image_uri"] == pushed["image_uri"]
    with pytest.raises(ImageNotFound):  # handed on without a pull
        docker_client.images.get(again["image"])


def test_a_secret_reaches_its_step_but_no_layer(tmp_path, example_image, docker_client, monkeypatch):
    secret = f"s3cret-{uuid.uuid4().hex}"
    monkeypatch.setenv("ML_TEST_TOKEN", secret)
    (tmp_path / "Dockerfile").write_text(
        "FROM python:3.11-slim\n"
        'RUN --mount=type=secret,id=token python3 -c "import hashlib; '
        "print(hashlib.sha256(open('/run/secrets/token', 'rb').read()).hexdigest())\" > /token.sha256\n"
    )
    built = _build(tmp_path, _repository(), secrets={"token": "env:ML_TEST_TOKEN"})

    shown = docker_client.containers.run(
        built["image"], ["sh", "-c", "cat /token.sha256; ls /run/secrets"], remove=True
    )
    assert shown.decode().split() == [hashlib.sha256(secret.encode()).hexdigest()]
    saved = tmp_path / "image.tar"
    with saved.open("wb") as handle:
        for chunk in docker_client.images.get(built["image_id"]).save():
            handle.write(chunk)
    with tarfile.open(saved) as outer:
        for member in outer.getmembers():
            if member.isfile():
                assert secret.encode() not in outer.extractfile(member).read(), member.name  # type: ignore[union-attr]


def test_python_script_template_trains_and_serves(tmp_path, example_image, ml_home, docker_client):
    train_dir = tmp_path / "data" / "train"
    train_dir.mkdir(parents=True)
    (train_dir / "part-0.csv").write_text("1,0\n2,0\n3,0\n")
    built = _build(SCRIPT_DIR, _repository(), template="python-script")
    train = TrainOnEC2Operator(
        task_id="train", image_uri=built["image"], channels={"train": f"file://{train_dir}"},
        output_path=f"file://{tmp_path / 'out'}", hyperparameters={"scale": 2, "note": "x y"}, max_runtime_s=300,
        metric_definitions=[{"Name": "mean", "Regex": r"mean=([0-9.]+);"}],
    ).execute(task_context())  # fmt: skip

    assert train["metrics"]["mean"] == 4.0
    with tarfile.open(Path(train["output_uri"].removeprefix("file://"))) as archive:
        seen = json.loads(archive.extractfile("seen.json").read())  # type: ignore[union-attr]
    assert seen["argv"] == ["--note", "x y", "--scale", "2"]
    assert json.loads(seen["SM_HPS"]) == {"note": "x y", "scale": 2}
    assert seen["SM_HP_SCALE"] == "2" and seen["SM_CHANNEL_TRAIN"] == "/opt/ml/input/data/train"
    assert seen["SM_CURRENT_HOST"] == "algo-1" and json.loads(seen["SM_HOSTS"]) == ["algo-1"]
    assert seen["six"] == "1.17.0"  # requirements.txt, installed from wheels without network in the image

    name = f"tpl-{uuid.uuid4().hex[:8]}"
    try:
        deployed = DeployEndpointOperator(
            task_id="deploy", endpoint_name=name, image_uri=built["image"], model_uri=train["model_uri"]
        ).execute(task_context())
        request = urllib.request.Request(
            deployed["invocations_url"], data=b"1,2\n3,4,5\n", headers={"Content-Type": "text/csv"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.headers["Content-Type"] == "application/json"
            assert json.loads(response.read()) == [[12.0], [48.0]]
    finally:
        DeleteEndpointOperator(task_id="delete", endpoint_name=name).execute(task_context())


def test_a_failing_training_script_fails_the_job_with_its_error(tmp_path, example_image, ml_home):
    train_dir = tmp_path / "train"
    train_dir.mkdir()
    (train_dir / "part-0.csv").write_text("1\n")
    built = _build(SCRIPT_DIR, _repository(), template="python-script")
    train = TrainOnEC2Operator(
        task_id="train", image_uri=built["image"], channels={"train": f"file://{train_dir}"},
        output_path=f"file://{tmp_path / 'out'}", hyperparameters={"fail": "on purpose"}, max_runtime_s=300,
    )  # fmt: skip
    with pytest.raises(JobFailed, match=r"ExecuteUserScriptError: ExitCode 1[\s\S]*asked to fail: on purpose"):
        train.execute(task_context())


def test_python_inference_template_serves_only(tmp_path, example_image, docker_client):
    (tmp_path / "inference.py").write_text((SCRIPT_DIR / "inference.py").read_text())
    built = _build(tmp_path, _repository(), template="python-inference")
    with pytest.raises(ContainerError) as failed:
        docker_client.containers.run(built["image"], ["train"], remove=True)
    assert failed.value.exit_status == 1 and b"this image serves only" in failed.value.stderr


def test_templates_refuse_a_folder_without_their_files(tmp_path):
    (tmp_path / "inference.py").write_text("def model_fn(model_dir):\n    return None\n")
    with pytest.raises(SpecError, match=r"no train\.py"):
        _build(tmp_path, _repository(), template="python-script")
    with pytest.raises(SpecError, match="template"):
        BuildImageOperator(task_id="b", context_path=str(tmp_path), repository="x/y", template="no-such")


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
    assert again["image_uri"] == pushed["image_uri"] and again["pushed"] is False
    json.dumps(pushed)


@pytest.mark.parametrize("repository", ["127.0.0.1:5000/x/y", "x/y:tag", "UPPER"])
def test_push_refuses_a_repository_with_registry_or_tag(repository):
    with pytest.raises(SpecError, match="repository"):
        PushToECROperator(task_id="push", image="img:1", repository=repository)
