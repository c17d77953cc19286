"""Template macros for DAG authors: ``{{ macros.ml_lifecycle.latest_model_uri(...) }}`` and friends."""

from __future__ import annotations

from typing import Any


def default_registry_uri() -> str:
    """Return the model registry of the embedded default: ``<ML_LIFECYCLE_ARTIFACT_ROOT>/registry``."""
    from ml_lifecycle import settings

    return f"{settings.default_artifact_root().rstrip('/')}/registry"


def latest_model_manifest(
    model_name: str, registry_uri: str | None = None, aws_conn_id: str | None = "aws_default"
) -> dict[str, Any]:
    """Return the manifest of a model's newest published version (version, uri, lineage with metrics).

    :param model_name: the model's name.
    :param registry_uri: the model registry root; None for default_registry_uri().
    :param aws_conn_id: the Airflow AWS connection used for ``s3://`` registries.
    """
    from ml_lifecycle.core.uris import parse_uri
    from ml_lifecycle.errors import ArtifactNotFound
    from ml_lifecycle.stores import store_factory
    from ml_lifecycle.stores.model_registry import read_manifest, versions

    registry_uri = registry_uri or default_registry_uri()
    root = parse_uri(registry_uri, "registry_uri").join(model_name)
    store = store_factory(aws_conn_id)(root)
    found = versions(store, root)
    if not found:
        raise ArtifactNotFound(f"No version of {model_name} is published under {registry_uri}; run ExportArtifacts")
    return read_manifest(store, root, found[-1])


def latest_model_uri(registry_uri: str, model_name: str, aws_conn_id: str | None = "aws_default") -> str:
    """Return the URI of a model's newest published version (its model.tar.gz).

    :param registry_uri: the model registry root.
    :param model_name: the model's name.
    :param aws_conn_id: the Airflow AWS connection used for ``s3://`` registries.
    """
    return str(latest_model_manifest(model_name, registry_uri, aws_conn_id)["uri"])


def latest_model_version(model_name: str, registry_uri: str | None = None) -> int:
    """Return a model's newest published version number.

    :param model_name: the model's name.
    :param registry_uri: the model registry root; None for default_registry_uri().
    """
    return int(latest_model_manifest(model_name, registry_uri)["version"])
