"""Publish trained models as numbered, verified versions with a manifest of their lineage."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from typing import Any

from ml_lifecycle.core.uris import ArtifactUri, parse_uri
from ml_lifecycle.errors import ArtifactExists, ArtifactNotFound, StoreError
from ml_lifecycle.stores.archive_check import BadArchive, check_model_archive
from ml_lifecycle.stores.base import ArtifactStore

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
MODEL_OBJECT = "model.tar.gz"
SOURCE_OBJECT = "sourcedir.tar.gz"
MAX_VERSION_RACES = 20


def versions(store: ArtifactStore, model_root: ArtifactUri) -> list[int]:
    """Return the published version numbers of a model (a version exists once its manifest does), ascending.

    :param store: the registry's store.
    :param model_root: ``<registry_uri>/<model_name>``.
    """
    found = set()
    for obj in store.list_objects(model_root):
        head, _, tail = obj.relative_key.partition("/")
        if tail == MANIFEST and head.isdigit():
            found.add(int(head))
    return sorted(found)


def read_manifest(store: ArtifactStore, model_root: ArtifactUri, version: int) -> dict[str, Any]:
    """Read one version's manifest.

    :param store: the registry's store.
    :param model_root: ``<registry_uri>/<model_name>``.
    :param version: the version number.
    """
    return json.loads(store.read_bytes(model_root.join(str(version), MANIFEST)))


def in_service_manifest(
    store: ArtifactStore, model_root: ArtifactUri, exclude_dag_run: str | None
) -> dict[str, Any] | None:
    """Return the manifest of the version in service (the newest one not published by this DAG run), or None.

    A retry of the same run must not compare its model with the version it published itself before failing.

    :param store: the registry's store.
    :param model_root: ``<registry_uri>/<model_name>``.
    :param exclude_dag_run: the DAG run whose versions are skipped, or None.
    """
    for version in reversed(versions(store, model_root)):
        manifest = read_manifest(store, model_root, version)
        if exclude_dag_run is None or manifest.get("lineage", {}).get("dag_run") != exclude_dag_run:
            return manifest
    return None


def sha256_of(store: ArtifactStore, uri: ArtifactUri) -> tuple[str, int]:
    """Stream an object and return its (sha256 hex, size in bytes).

    :param store: the object's store.
    :param uri: the object.
    """
    digest = hashlib.sha256()
    size = 0
    for chunk in store.iter_chunks(uri):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def publish(
    store_for: Callable[[ArtifactUri], ArtifactStore],
    model_uri: str,
    model_name: str,
    registry_uri: str,
    lineage: dict[str, Any],
    scratch_dir: str,
    code: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """Copy a model into the next version of ``<registry_uri>/<model_name>/``, verify it, and commit its manifest.

    The model is read whole first (check_model_archive): a truncated, foreign or unsafe archive fails the task and
    leaves the registry as it was. The manifest is written last and only if absent, so two publishers never share a
    version and a reader never sees a version without its model; it records the archive's sha256, which deploys and
    transforms check before they unpack it. Publishing the same model bytes again from the same DAG run returns the
    version published before (a task retry creates no second version).

    :param store_for: returns the store for a URI.
    :param model_uri: the trained model.tar.gz.
    :param model_name: the model's name in the registry.
    :param registry_uri: the registry root.
    :param lineage: what made the model (image digest, inputs, hyperparameters, metrics, DAG run).
    :param scratch_dir: a local folder for the copy in transit.
    :param code: a script-mode model's code, (its sourcedir.tar.gz, its entry point): copied into the version
        beside the model and named in the manifest's ``code``, so the version serves from its URI alone.
    """
    source = parse_uri(model_uri, "model_uri")
    root = parse_uri(registry_uri, "registry_uri").join(model_name)
    source_store, store = store_for(source), store_for(root)
    source_sha, size = sha256_of(source_store, source)
    existing = versions(store, root)
    for version in reversed(existing):
        manifest = read_manifest(store, root, version)
        if manifest["model"]["sha256"] == source_sha and manifest["lineage"].get("dag_run") == lineage.get("dag_run"):
            log.info("Version %d of %s already holds this model from this run; reusing it", version, model_name)
            return manifest
    os.makedirs(scratch_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch_dir) as scratch:
        local = os.path.join(scratch, MODEL_OBJECT)
        source_store.download_file(source, local)
        # Nothing becomes a version before it is read whole: a truncated, foreign or unsafe archive fails here.
        checked = check_model_archive(local, model_uri)
        if checked.sha256 != source_sha:
            raise StoreError(
                f"{model_uri} changed while it was published (sha256 {source_sha} became "
                f"{checked.sha256}); retry the task once whatever writes it is done"
            )
        version = (existing[-1] if existing else 0) + 1
        for _ in range(MAX_VERSION_RACES):
            target = root.join(str(version), MODEL_OBJECT)
            store.upload_file(local, target)
            copied_sha, copied_size = sha256_of(store, target)
            if (copied_sha, copied_size) != (source_sha, size):
                raise StoreError(
                    f"The copy of {model_uri} at {target} does not match (sha256 {copied_sha} != {source_sha}); "
                    "the store corrupted or truncated it: retry the task"
                )
            manifest = {
                "model_name": model_name,
                "version": version,
                "uri": str(target),
                "model": {"source_uri": model_uri, "sha256": source_sha, "size_bytes": size},
                "lineage": lineage,
            }
            if code is not None:
                manifest["code"] = _copy_code(store_for, code, root, scratch)
            try:
                store.write_bytes(
                    root.join(str(version), MANIFEST), json.dumps(manifest, indent=1).encode(), if_absent=True
                )
            except ArtifactExists:
                log.info(
                    "Version %d of %s was taken by another publisher; trying %d",
                    version,
                    model_name,
                    version + 1,
                )
                version += 1
                continue
            log.info("Published %s version %d (%d bytes, sha256 %s)", model_name, version, size, source_sha[:12])
            return manifest
    raise StoreError(f"Could not claim a version of {model_name} after {MAX_VERSION_RACES} tries; retry the task")


def _copy_code(
    store_for: Callable[[ArtifactUri], ArtifactStore], code: tuple[str, str], model_root: ArtifactUri, scratch: str
) -> dict[str, Any]:
    """Copy a script-mode model's sourcedir.tar.gz into the registry, verified; return the manifest's ``code``.

    The copy is kept by its content (``<model_root>/code/<sha256>/sourcedir.tar.gz``), so two publishers racing for
    a version never overwrite the code the winner's manifest records.

    :param store_for: returns the store for a URI.
    :param code: (the source archive's URI, the entry point).
    :param model_root: ``<registry_uri>/<model_name>``.
    :param scratch: a local folder for the copy in transit.
    """
    archive_uri, entry_point = code
    source = parse_uri(archive_uri, "code")
    source_sha, size = sha256_of(store_for(source), source)
    target = model_root.join("code", source_sha[:32], SOURCE_OBJECT)
    local = os.path.join(scratch, SOURCE_OBJECT)
    store_for(source).download_file(source, local)
    store_for(target).upload_file(local, target)
    copied = sha256_of(store_for(target), target)
    if copied != (source_sha, size):
        raise StoreError(
            f"The copy of {archive_uri} at {target} does not match (sha256 {copied[0]} != {source_sha}): retry the task"
        )
    return {
        "uri": str(target),
        "entry_point": entry_point,
        "sha256": source_sha,
        "size_bytes": size,
        "source_uri": archive_uri,
    }


def published_manifest(store: ArtifactStore, model_uri: ArtifactUri) -> dict[str, Any] | None:
    """Return the manifest of the registry version a model URI is, or None when it is no such version.

    :param store: the model's store.
    :param model_uri: a model's URI (a registry version's is ``<registry>/<name>/<version>/model.tar.gz``).
    """
    if not model_uri.path.endswith("/" + MODEL_OBJECT):
        return None
    folder = str(model_uri)[: -len(MODEL_OBJECT)]
    try:
        manifest = json.loads(store.read_bytes(parse_uri(folder + MANIFEST)))
    except ArtifactNotFound:
        return None
    return manifest if manifest.get("uri") == str(model_uri) else None


def published_sha256(store: ArtifactStore, model_uri: ArtifactUri) -> str | None:
    """Return the sha256 a registry version's manifest records for its model, or None when it is no such version.

    :param store: the model's store.
    :param model_uri: a model's URI (a registry version's is ``<registry>/<name>/<version>/model.tar.gz``).
    """
    manifest = published_manifest(store, model_uri)
    if manifest is None:
        return None
    return str(manifest.get("model", {}).get("sha256") or "") or None


def check_published(archive_path: str, store: ArtifactStore, model_uri: ArtifactUri) -> None:
    """Check a downloaded model archive whole, and against the sha256 its registry manifest records, if any.

    :param archive_path: the downloaded archive.
    :param store: the model's store.
    :param model_uri: where it was downloaded from.
    """
    checked = check_model_archive(archive_path, str(model_uri))
    expected = published_sha256(store, model_uri)
    if expected is not None and expected != checked.sha256:
        raise BadArchive(
            f"{model_uri} does not match the sha256 its manifest records ({checked.sha256} is not {expected}): "
            "the registry's copy changed after it was published. Publish the model again (ExportArtifactsOperator)"
        )
