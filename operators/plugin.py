"""The Airflow plugin: macros for DAG authors (the UI page arrives with the Airflow-experience work)."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin


def latest_model_uri(registry_uri: str, model_name: str, aws_conn_id: str | None = "aws_default") -> str:
    """Return the URI of a model's newest published version, for templates: ``{{ macros.ml_lifecycle... }}``.

    :param registry_uri: the model registry root.
    :param model_name: the model's name.
    :param aws_conn_id: the Airflow AWS connection used for ``s3://`` registries.
    """
    from ml_lifecycle.core.uris import parse_uri
    from ml_lifecycle.errors import ArtifactNotFound
    from ml_lifecycle.runtime import store_factory
    from ml_lifecycle.stores.model_registry import read_manifest, versions

    root = parse_uri(registry_uri, "registry_uri").join(model_name)
    store = store_factory(aws_conn_id)(root)
    found = versions(store, root)
    if not found:
        raise ArtifactNotFound(f"No version of {model_name} is published under {registry_uri}; run ExportArtifacts")
    return read_manifest(store, root, found[-1])["uri"]


class MlLifecyclePlugin(AirflowPlugin):
    """Registers ml_lifecycle's macros with Airflow."""

    name = "ml_lifecycle"
    macros = [latest_model_uri]
