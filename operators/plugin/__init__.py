"""The Airflow plugin: the "ML lifecycle" page in the UI's navigation, and template macros.

Registered by the package's ``airflow.plugins`` entry point and by ``plugins/ml_lifecycle_plugin.py``.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from ml_lifecycle.plugin.app import URL_PREFIX, create_app
from ml_lifecycle.plugin.macros import (
    default_registry_uri,
    latest_model_manifest,
    latest_model_uri,
    latest_model_version,
)
from ml_lifecycle.plugin.sagemaker_api import API_URL_PREFIX, LazyApp, PrefixWithoutSlash

__all__ = ["MlLifecyclePlugin", "latest_model_uri"]


class MlLifecyclePlugin(AirflowPlugin):
    """Adds the ML lifecycle page (a FastAPI app shown in the navigation) and ml_lifecycle's macros."""

    name = "ml_lifecycle"
    macros = [latest_model_uri, latest_model_version, latest_model_manifest, default_registry_uri]
    fastapi_apps = [
        {"app": create_app(), "url_prefix": URL_PREFIX, "name": "ML lifecycle"},
        {"app": LazyApp(), "url_prefix": API_URL_PREFIX, "name": "SageMaker-compatible API"},
    ]
    fastapi_root_middlewares = [
        {"middleware": PrefixWithoutSlash, "args": [], "kwargs": {}, "name": "SageMaker-compatible API prefix"}
    ]
    external_views = [
        {
            "name": "ML lifecycle",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "url_route": "ml-lifecycle",
        }
    ]
