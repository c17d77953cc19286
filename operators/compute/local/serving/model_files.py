"""Fetch a model for serving (download model.tar.gz, or a folder of files, and unpack it) and mount it at
/opt/ml/model."""

from __future__ import annotations

import os
import shutil

from ml_lifecycle.compute.local.serving.archive import extract_tar_gz
from ml_lifecycle.compute.records import StoreFor
from ml_lifecycle.core.contract import MODEL_DIR, Mount
from ml_lifecycle.core.script_mode import MODEL_CODE_FOLDER
from ml_lifecycle.core.uris import parse_uri
from ml_lifecycle.errors import ArtifactNotFound
from ml_lifecycle.stores.model_registry import check_published


def fetch_model(model_uri: str, target_dir: str, store_for: StoreFor) -> str:
    """Make the model available as a folder and return its path.

    :param model_uri: a ``.tar.gz`` object (unpacked safely) or a prefix of uncompressed model files.
    :param target_dir: the scratch folder to use; the model ends up in ``<target_dir>/model``.
    :param store_for: returns the store for a URI.
    """
    uri = parse_uri(model_uri, "model_uri")
    store = store_for(uri)
    model_dir = os.path.join(target_dir, "model")
    os.makedirs(model_dir, exist_ok=True)
    if uri.path.endswith((".tar.gz", ".tgz")):
        archive_path = os.path.join(target_dir, "model.tar.gz")
        store.download_file(uri, archive_path)
        check_published(archive_path, store, uri)  # whole, safe, and the bytes the registry published
        extract_tar_gz(archive_path, model_dir)
        os.remove(archive_path)
        return model_dir
    objects = store.list_objects(uri)
    if not objects:
        raise ArtifactNotFound(f"model_uri {model_uri} holds no model: point it at a model.tar.gz or a model folder")
    store.download_prefix(uri, model_dir, objects)
    return model_dir


def model_mounts(model_dir: str, container: str) -> list[Mount]:
    """Return a serving container's mounts of its model: read-only, but a copy of its code/ folder of its own,
    writable, when it has one, as serving stacks need (AWS's scikit-learn container writes a setup.py there and
    pip-installs the user's code); containers sharing a model never see each other's writes.

    :param model_dir: the unpacked model folder.
    :param container: the container's name (its copy of code/ is ``code-<name>`` beside the model folder).
    """
    mounts = [Mount(model_dir, MODEL_DIR, read_only=True)]
    code = os.path.join(model_dir, MODEL_CODE_FOLDER)
    if os.path.isdir(code):
        private = os.path.join(os.path.dirname(os.path.abspath(model_dir)), f"{MODEL_CODE_FOLDER}-{container}")
        if not os.path.isdir(private):  # a container started again under its name keeps its copy
            shutil.copytree(code, private, symlinks=True)
        mounts.append(Mount(private, f"{MODEL_DIR}/{MODEL_CODE_FOLDER}"))
    return mounts
