"""Loads the ml_lifecycle plugin from $AIRFLOW_HOME/plugins for installs that skip the package's entry point.

Airflow registers a plugin once by name, so having both this file and the entry point is harmless.
"""

from ml_lifecycle.plugin import MlLifecyclePlugin

__all__ = ["MlLifecyclePlugin"]
