"""Script mode for serving, as the SageMaker SDK arranges a framework model: the model archive repacked with the
code under ``code/`` (dependencies under ``code/lib/``), and SAGEMAKER_PROGRAM / SAGEMAKER_SUBMIT_DIRECTORY /
SAGEMAKER_CONTAINER_LOG_LEVEL / SAGEMAKER_REGION in the containers' environment.

The SDK uploads the code to S3 and lets the container fetch it unless the model is network-isolated, in which case
it repacks; repacking is the form that needs no S3 access from inside a container, so every backend uses it. The
repacked archive is content-addressed (the model object's URI and version, the code's content): a second deploy or
transform of the same model and code repacks and uploads nothing. The code is either a folder on this machine or
the one a published registry version keeps (ExportArtifactsOperator), so version N deploys from its URI alone.
"""

from __future__ import annotations

import gzip
import os
import tarfile
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ml_lifecycle.compute.local.serving.archive import GZIP_LEVEL, extract_tar_gz
from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.script_mode import (
    DEFAULT_LOG_LEVEL,
    MODEL_CODE_FOLDER,
    MODEL_CODE_LIBRARIES,
    repacked_model_uri,
    serving_environment,
)
from ml_lifecycle.core.uris import parse_uri
from ml_lifecycle.errors import ArtifactNotFound, StoreError
from ml_lifecycle.source_code.archive import SourceCode, add_file, digest_of
from ml_lifecycle.stores import StoreFor
from ml_lifecycle.stores.model_registry import check_published, published_manifest, sha256_of


@dataclass(frozen=True)
class ServingCode:
    """The code a script-mode model serves with: files on this machine, or a published sourcedir.tar.gz.

    :param program: the entry point, relative to code/.
    :param digest: the sha256 identifying the code's content.
    :param files: (name under code/, file on this machine), for code from a folder.
    :param archive_uri: a sourcedir.tar.gz in a store: the one a registry version keeps, or a source_dir given as
        the archive's URI (as the SDK takes ``source_dir="s3://.../sourcedir.tar.gz"``).
    :param archive_sha256: the sha256 the archive must have (a registry version's manifest records it), or None.
    :param replaces_model_code: the model's own code/ is removed first (the SDK does so for a source_dir folder;
        an entry point alone or an archive is added to it).
    """

    program: str
    digest: str
    files: tuple[tuple[str, Path], ...] = ()
    archive_uri: str | None = None
    archive_sha256: str | None = None
    replaces_model_code: bool = False


@dataclass(frozen=True)
class ServingPlan:
    """What the serving containers get: the model to unpack under /opt/ml/model and their environment.

    :param model_uri: the model served (the repacked one in script mode).
    :param environment: the containers' environment, script mode's variables included.
    :param source_model_uri: the model as given.
    :param code: the script-mode code, or None.
    :param source_version: the given model's size and ETag when it was planned (``<bytes>:<etag>``).
    """

    model_uri: str
    environment: dict[str, str] = field(default_factory=dict)
    source_model_uri: str = ""
    code: ServingCode | None = None
    source_version: str = ""


def local_code(code: SourceCode, store_for: StoreFor) -> ServingCode:
    """Return a folder's code as the SDK's repack lays it out under code/ (dependencies under code/lib/), or the
    archive a source_dir URI names (its content as it was packed; identified by the store's size and ETag).

    :param code: the entry point, source directory and dependencies.
    :param store_for: returns the store for a URI (for a source_dir that is an archive's URI).
    """
    if code.source_dir and "://" in code.source_dir:
        uri = parse_uri(code.source_dir, "source_dir")
        found = [info for info in store_for(uri).list_objects(uri) if info.uri == str(uri)]
        if not uri.path.endswith(".tar.gz") or not found:
            raise SpecError(
                "source_dir",
                f"{code.source_dir} is not a tar.gz archive in the store",
                "Give a folder on this machine, or the URI of a sourcedir.tar.gz (as the SDK takes it)",
            )
        if code.dependencies:
            raise SpecError("dependencies", "cannot be added to an archive given by URI", "Pack them into it")
        return ServingCode(code.program(), f"{found[0].size_bytes}:{found[0].etag}", archive_uri=str(uri))
    files = code.members(MODEL_CODE_LIBRARIES)
    return ServingCode(code.program(), digest_of(files), tuple(files), replaces_model_code=bool(code.source_dir))


def published_code(model_uri: str, store_for: StoreFor) -> ServingCode | None:
    """Return the code a registry version's manifest names for its model, or None (not a version, or no code).

    :param model_uri: the model's URI.
    :param store_for: returns the store for a URI.
    """
    uri = parse_uri(model_uri, "model_uri")
    manifest = published_manifest(store_for(uri), uri)
    code = (manifest or {}).get("code")
    if not code:
        return None
    sha256 = str(code["sha256"])
    return ServingCode(str(code["entry_point"]), sha256, archive_uri=str(code["uri"]), archive_sha256=sha256)


def plan_serving(
    model_uri: str,
    environment: Mapping[str, str],
    code: SourceCode | None,
    region: Callable[[], str],
    store_for: StoreFor,
    log_level: int = DEFAULT_LOG_LEVEL,
    use_version_code: bool = True,
) -> ServingPlan:
    """Return what the containers get: the model and environment as given, or, in script mode, the repacked model
    and the SDK's environment (its variables win over the same names in environment, as in the SDK).

    :param model_uri: the model.tar.gz given.
    :param environment: the containers' environment as given.
    :param code: the folder's code, or None to use the code a registry version keeps, if any.
    :param region: returns the AWS region reported to the containers (asked only in script mode).
    :param store_for: returns the store for a URI.
    :param log_level: the toolkit's log level.
    :param use_version_code: serve a registry version with the code it keeps when no code is given; False serves
        the model as it is.
    """
    if code is not None:
        serving: ServingCode | None = local_code(code, store_for)
    else:
        serving = published_code(model_uri, store_for) if use_version_code else None
    if serving is None:
        return ServingPlan(model_uri, dict(environment), model_uri)
    if "/" in serving.program:
        raise SpecError(
            "entry_point" if code is not None else "model_uri",
            f"the inference program {serving.program!r} is in a subfolder of the code",
            "Put it at the top of source_dir (SageMaker's serving toolkits import it by its module name) and pass "
            "entry_point and source_dir",
        )
    uri = parse_uri(model_uri, "model_uri")
    if not uri.path.endswith((".tar.gz", ".tgz")):
        raise SpecError(
            "model_uri",
            f"{model_uri} is a folder of model files, and script mode repacks the model with its code",
            "Give the model.tar.gz (the training job's output) with entry_point",
        )
    found = [info for info in store_for(uri).list_objects(uri) if info.uri == str(uri)]
    if not found:
        raise ArtifactNotFound(f"model_uri {model_uri} does not exist: point it at a model.tar.gz")
    version = f"{found[0].size_bytes}:{found[0].etag}"
    return ServingPlan(
        repacked_model_uri(str(uri), version, serving.digest),
        {**environment, **serving_environment(serving.program, region(), log_level)},
        str(uri),
        serving,
        version,
    )


def ensure_repacked(plan: ServingPlan, store_for: StoreFor, sink: Callable[[str], None], scratch_dir: str) -> None:
    """Write the plan's repacked model unless it exists: the model's members (its own code/ replaced, as the SDK
    does) and the code under code/. The model is checked whole (and against its registry manifest) first.

    :param plan: what plan_serving returned.
    :param store_for: returns the store for a URI.
    :param sink: the task log.
    :param scratch_dir: a local folder for the archives in transit.
    """
    if plan.code is None:
        return
    target = parse_uri(plan.model_uri)
    store = store_for(target)
    if store.exists(target):
        sink(f"Script mode: the model repacked with this code is reused: {target}")
        return
    os.makedirs(scratch_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch_dir, prefix="repack-") as scratch:
        source = parse_uri(plan.source_model_uri)
        model = os.path.join(scratch, "model.tar.gz")
        store_for(source).download_file(source, model)
        planned_bytes = int(plan.source_version.split(":", 1)[0] or -1)
        if os.path.getsize(model) != planned_bytes:
            raise StoreError(
                f"{source} changed while it was repacked ({os.path.getsize(model)} bytes, {planned_bytes} when "
                "planned): retry the task once whatever writes it is done"
            )
        check_published(model, store_for(source), source)
        files = plan.code.files or _published_files(plan.code, store_for, scratch)
        repacked = os.path.join(scratch, "repacked.tar.gz")
        replaced = _repack(model, files, repacked, plan.code.replaces_model_code)
        store.upload_file(repacked, target)
    note = f", replacing {replaced} files of its own code/" if replaced else ""
    sink(
        f"Script mode: {plan.source_model_uri} repacked with {len(files)} code files under code/{note}, "
        f"serving {plan.code.program}: {target}"
    )


def _published_files(code: ServingCode, store_for: StoreFor, scratch: str) -> tuple[tuple[str, Path], ...]:
    """Download and unpack a sourcedir.tar.gz (a published one checked against its manifest's sha256); return its
    files.

    :param code: the published code.
    :param store_for: returns the store for a URI.
    :param scratch: a local folder.
    """
    uri = parse_uri(str(code.archive_uri))
    if code.archive_sha256 is not None:
        digest, _ = sha256_of(store_for(uri), uri)
        if digest != code.archive_sha256:
            raise StoreError(
                f"{uri} does not match the sha256 its manifest records ({digest} is not {code.archive_sha256}): the "
                "registry's copy of the code changed after it was published. Publish the model again "
                "(ExportArtifactsOperator)"
            )
    archive = os.path.join(scratch, "sourcedir.tar.gz")
    store_for(uri).download_file(uri, archive)
    folder = os.path.join(scratch, "code")
    extract_tar_gz(archive, folder)
    root = Path(folder)
    return tuple(sorted((p.relative_to(root).as_posix(), p) for p in root.rglob("*") if p.is_file()))


def _repack(model: str, files: tuple[tuple[str, Path], ...], out: str, replace_code: bool) -> int:
    """Write the model's members (without its code/ when replace_code, else without the files the code brings),
    then the code files under code/; return how many of the model's files were left out.

    :param model: the model archive (checked).
    :param files: (name under code/, file).
    :param out: the archive to write.
    :param replace_code: remove the model's own code/ first, as the SDK does for a source_dir folder.
    """
    added = {f"{MODEL_CODE_FOLDER}/{name}" for name, _ in files}
    replaced = 0
    with (
        tarfile.open(model, "r:*") as source,
        open(out, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=GZIP_LEVEL) as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for member in source:
            if member.islnk():  # a hard link may point at a member left out: keep it as the file it names
                member = _as_file(source, member)
            name = os.path.normpath(member.name)
            in_code = name == MODEL_CODE_FOLDER or name.startswith(MODEL_CODE_FOLDER + "/")
            if (replace_code and in_code) or name in added:
                replaced += member.isfile()
                continue
            tar.addfile(member, source.extractfile(member) if member.isfile() else None)
        for name, path in files:
            add_file(tar, f"{MODEL_CODE_FOLDER}/{name}", path)
    return replaced


def _as_file(source: tarfile.TarFile, link: tarfile.TarInfo) -> tarfile.TarInfo:
    """Return a hard link's member as a regular file with its target's content (extractfile reads the target).

    :param source: the archive.
    :param link: the hard link member.
    """
    target = source.getmember(link.linkname)
    member = tarfile.TarInfo(link.name)
    member.size, member.mode, member.mtime = target.size, target.mode, target.mtime
    member.uid, member.gid, member.uname, member.gname = target.uid, target.gid, target.uname, target.gname
    member.offset_data = target.offset_data  # extractfile reads the target's bytes
    return member
