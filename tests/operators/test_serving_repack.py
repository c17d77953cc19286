"""Script mode for serving: the model repacked with code/ as the SageMaker SDK does (dependencies under code/lib/),
content-addressed so a repack happens once, and the code a registry version keeps used when none is given."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.errors import StoreError
from ml_lifecycle.source_code.archive import SourceCode
from ml_lifecycle.source_code.serving import ensure_repacked, plan_serving
from ml_lifecycle.stores import store_factory
from ml_lifecycle.stores.model_registry import publish

REGION = "eu-west-1"


def _model(path: Path, members: dict[str, bytes]) -> str:
    """Write a model.tar.gz and return its URI.

    :param path: the archive to write.
    :param members: name -> bytes.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return f"file://{path}"


def _members(uri: str) -> dict[str, bytes]:
    """Read an archive's files.

    :param uri: a file:// URI.
    """
    with tarfile.open(uri.removeprefix("file://")) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def _code(root: Path, text: str = "def model_fn(d):\n    return 1\n") -> SourceCode:
    """Write an inference folder and a dependency folder; return the code.

    :param root: where.
    :param text: inference.py's content.
    """
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "src" / "inference.py").write_text(text)
    (root / "src" / "requirements.txt").write_text("tinypkg\n")
    (root / "helpers").mkdir(exist_ok=True)
    (root / "helpers" / "__init__.py").write_text("X = 1\n")
    return SourceCode("inference.py", str(root / "src"), (str(root / "helpers"),))


def test_the_model_is_repacked_with_code_as_the_sdk_does_and_the_environment_names_it(tmp_path):
    model = _model(
        tmp_path / "job" / "model.tar.gz",
        {"weights.json": b"{}", "./code/old.py": b"stale", "code/inference.py": b"stale"},
    )
    plan = plan_serving(
        model, {"A": "1", "SAGEMAKER_PROGRAM": "x"}, _code(tmp_path), lambda: REGION, store_factory(None)
    )
    assert plan.environment == {
        "A": "1",
        "SAGEMAKER_PROGRAM": "inference.py",  # script mode's variables win, as in the SDK
        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
        "SAGEMAKER_REGION": REGION,
    }
    assert plan.model_uri.startswith(f"file://{tmp_path}/job/script-mode/")
    log: list[str] = []
    ensure_repacked(plan, store_factory(None), log.append, str(tmp_path / "scratch"))
    assert _members(plan.model_uri) == {
        "weights.json": b"{}",
        "code/inference.py": b"def model_fn(d):\n    return 1\n",
        "code/requirements.txt": b"tinypkg\n",
        "code/lib/helpers/__init__.py": b"X = 1\n",  # the SDK's repack puts dependencies under code/lib/
    }
    assert "replacing 2 files of its own code/" in log[0]
    assert _members(model)["weights.json"] == b"{}"  # the model given is left as it was


def test_an_unchanged_model_and_code_repack_once_and_a_change_to_either_repacks(tmp_path):
    model = _model(tmp_path / "job" / "model.tar.gz", {"weights.json": b"{}"})
    stores = store_factory(None)
    first = plan_serving(model, {}, _code(tmp_path), lambda: REGION, stores)
    ensure_repacked(first, stores, lambda _: None, str(tmp_path / "scratch"))
    written = Path(first.model_uri.removeprefix("file://")).stat().st_mtime_ns

    log: list[str] = []
    again = plan_serving(model, {}, _code(tmp_path), lambda: REGION, stores)
    ensure_repacked(again, stores, log.append, str(tmp_path / "scratch"))
    assert again.model_uri == first.model_uri and "reused" in log[0]
    assert Path(first.model_uri.removeprefix("file://")).stat().st_mtime_ns == written

    changed_code = plan_serving(model, {}, _code(tmp_path, "def model_fn(d):\n    return 2\n"), lambda: REGION, stores)
    assert changed_code.model_uri != first.model_uri
    _model(tmp_path / "job" / "model.tar.gz", {"weights.json": b'{"retrained": 1}'})
    changed_model = plan_serving(model, {}, _code(tmp_path), lambda: REGION, stores)
    assert changed_model.model_uri not in (first.model_uri, changed_code.model_uri)


def test_without_script_mode_the_model_and_environment_pass_unchanged_and_no_region_is_asked(tmp_path):
    model = _model(tmp_path / "model.tar.gz", {"weights.json": b"{}"})

    def no_region() -> str:
        raise AssertionError("the region is asked only in script mode")

    plan = plan_serving(model, {"A": "1"}, None, no_region, store_factory(None))
    assert (plan.model_uri, plan.environment, plan.code) == (model, {"A": "1"}, None)


def test_a_folder_of_model_files_is_refused_with_what_to_give(tmp_path):
    (tmp_path / "model").mkdir()
    with pytest.raises(SpecError, match=r"model\.tar\.gz"):
        plan_serving(f"file://{tmp_path}/model/", {}, _code(tmp_path), lambda: REGION, store_factory(None))


def _published_with_code(tmp_path: Path) -> tuple[str, Path]:
    """Publish a model with a sourcedir.tar.gz as ExportArtifactsOperator does; return its URI and the archive.

    :param tmp_path: the test's folder.
    """
    model = _model(tmp_path / "job" / "output" / "model.tar.gz", {"weights.json": b"{}"})
    source = tmp_path / "job" / "source" / "sourcedir.tar.gz"
    _model(source, {"serve.py": b"def model_fn(d):\n    return 3\n", "helpers/__init__.py": b""})
    manifest = publish(
        store_factory(None), model, "churn", f"file://{tmp_path}/registry", {}, str(tmp_path / "x"),
        (f"file://{source}", "serve.py"),
    )  # fmt: skip
    return manifest["uri"], source


def test_a_published_version_serves_with_the_code_it_keeps(tmp_path):
    uri, _ = _published_with_code(tmp_path)
    manifest = json.loads(Path(uri.removeprefix("file://")).with_name("manifest.json").read_text())
    assert manifest["code"]["uri"].startswith(f"file://{tmp_path}/registry/churn/code/")  # kept by its content
    assert manifest["code"]["uri"].endswith("/sourcedir.tar.gz")
    assert manifest["code"]["entry_point"] == "serve.py"
    plan = plan_serving(uri, {}, None, lambda: REGION, store_factory(None))
    assert plan.environment["SAGEMAKER_PROGRAM"] == "serve.py"
    ensure_repacked(plan, store_factory(None), lambda _: None, str(tmp_path / "scratch"))
    assert _members(plan.model_uri) == {
        "weights.json": b"{}",
        "code/serve.py": b"def model_fn(d):\n    return 3\n",
        "code/helpers/__init__.py": b"",  # the training archive's layout: dependencies at its root
    }


def test_code_changed_in_the_registry_after_publishing_is_refused(tmp_path):
    uri, _ = _published_with_code(tmp_path)
    manifest = json.loads(Path(uri.removeprefix("file://")).with_name("manifest.json").read_text())
    kept = Path(manifest["code"]["uri"].removeprefix("file://"))
    _model(kept, {"serve.py": b"tampered"})
    plan = plan_serving(uri, {}, None, lambda: REGION, store_factory(None))
    with pytest.raises(StoreError, match="changed after it was published"):
        ensure_repacked(plan, store_factory(None), lambda _: None, str(tmp_path / "scratch"))
    assert not Path(plan.model_uri.removeprefix("file://")).exists()


def test_a_source_dir_given_as_an_archives_uri_is_served_as_it_was_packed(tmp_path):
    model = _model(tmp_path / "job" / "model.tar.gz", {"weights.json": b"{}"})
    archive = tmp_path / "code" / "sourcedir.tar.gz"
    _model(archive, {"inference.py": b"def model_fn(d):\n    return 4\n", "helpers/__init__.py": b""})
    code = SourceCode("inference.py", f"file://{archive}")  # as the SDK takes source_dir="s3://.../sourcedir.tar.gz"
    plan = plan_serving(model, {}, code, lambda: REGION, store_factory(None))
    ensure_repacked(plan, store_factory(None), lambda _: None, str(tmp_path / "scratch"))
    assert _members(plan.model_uri) == {
        "weights.json": b"{}",
        "code/inference.py": b"def model_fn(d):\n    return 4\n",
        "code/helpers/__init__.py": b"",
    }
    _model(archive, {"inference.py": b"def model_fn(d):\n    return 5\n"})
    assert plan_serving(model, {}, code, lambda: REGION, store_factory(None)).model_uri != plan.model_uri


@pytest.mark.parametrize("name", ["code.zip", "missing.tar.gz"])
def test_a_source_dir_uri_that_is_no_archive_in_the_store_is_refused(tmp_path, name):
    model = _model(tmp_path / "model.tar.gz", {"weights.json": b"{}"})
    (tmp_path / "code.zip").write_bytes(b"zip")
    with pytest.raises(SpecError, match=r"not a tar\.gz archive in the store"):
        plan_serving(model, {}, SourceCode("i.py", f"file://{tmp_path}/{name}"), lambda: REGION, store_factory(None))


def test_an_entry_point_alone_is_added_to_the_models_own_code_as_the_sdk_does(tmp_path):
    model = _model(tmp_path / "job" / "model.tar.gz", {"weights.json": b"{}", "code/util.py": b"kept"})
    (tmp_path / "serve.py").write_text("def model_fn(d):\n    return 1\n")
    plan = plan_serving(model, {}, SourceCode(str(tmp_path / "serve.py")), lambda: REGION, store_factory(None))
    ensure_repacked(plan, store_factory(None), lambda _: None, str(tmp_path / "scratch"))
    assert _members(plan.model_uri) == {
        "weights.json": b"{}",
        "code/util.py": b"kept",
        "code/serve.py": b"def model_fn(d):\n    return 1\n",
    }
    assert plan.environment["SAGEMAKER_PROGRAM"] == "serve.py"


def test_an_inference_program_in_a_subfolder_is_refused_as_the_toolkits_could_not_import_it(tmp_path):
    model = _model(tmp_path / "model.tar.gz", {"weights.json": b"{}"})
    (tmp_path / "src" / "jobs").mkdir(parents=True)
    (tmp_path / "src" / "jobs" / "serve.py").write_text("")
    with pytest.raises(SpecError, match="top of source_dir"):
        plan_serving(model, {}, SourceCode("jobs/serve.py", str(tmp_path / "src")), lambda: REGION, store_factory(None))


def test_a_model_overwritten_between_plan_and_repack_is_not_stored_under_the_old_key(tmp_path):
    model = _model(tmp_path / "job" / "model.tar.gz", {"weights.json": b"{}"})
    plan = plan_serving(model, {}, _code(tmp_path), lambda: REGION, store_factory(None))
    _model(tmp_path / "job" / "model.tar.gz", {"weights.json": b'{"retrained": true, "much": "longer now"}'})
    with pytest.raises(StoreError, match="changed while it was repacked"):
        ensure_repacked(plan, store_factory(None), lambda _: None, str(tmp_path / "scratch"))
    assert not Path(plan.model_uri.removeprefix("file://")).exists()


def test_a_version_served_without_its_code_when_asked_and_hard_links_in_a_model_survive_a_repack(tmp_path):
    uri, _ = _published_with_code(tmp_path)
    plain = plan_serving(uri, {"A": "1"}, None, lambda: REGION, store_factory(None), use_version_code=False)
    assert (plain.model_uri, plain.environment, plain.code) == (uri, {"A": "1"}, None)

    archive = tmp_path / "linked" / "model.tar.gz"
    archive.parent.mkdir()
    (tmp_path / "w.bin").write_bytes(b"weights")
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "w.bin", arcname="code/w.bin")
        link = tarfile.TarInfo("weights.bin")
        link.type, link.linkname = tarfile.LNKTYPE, "code/w.bin"
        tar.addfile(link)  # a hard link to a member the repack leaves out (code/ is replaced)
    plan = plan_serving(f"file://{archive}", {}, _code(tmp_path), lambda: REGION, store_factory(None))
    ensure_repacked(plan, store_factory(None), lambda _: None, str(tmp_path / "scratch"))
    assert _members(plan.model_uri)["weights.bin"] == b"weights"
