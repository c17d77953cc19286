"""Build the runners an operator uses for its compute backend (composition, not inheritance)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ml_lifecycle import settings
from ml_lifecycle.core.uris import ArtifactUri
from ml_lifecycle.errors import SpecError
from ml_lifecycle.stores.base import ArtifactStore

StoreFor = Callable[[ArtifactUri], ArtifactStore]


def require_local(compute: str) -> None:
    """Refuse compute backends this release cannot run yet, before anything starts.

    :param compute: the compute parameter.
    """
    if compute != "local":
        raise SpecError(
            "compute",
            f"{compute!r} is not available in this release (the EC2 backend is being built)",
            "Use compute='local' (the Docker engine that DOCKER_HOST points at)",
        )


def docker_engine() -> Any:
    """Return a DockerEngine for the engine the environment points at (DOCKER_HOST or the local socket)."""
    from ml_lifecycle.compute.docker_engine import DockerEngine

    return DockerEngine()


def training_jobs(spec: Any, aws_conn_id: str | None) -> Any:
    """Return the local training job manager, with stores that a detached agent can use.

    :param spec: the TrainingSpec (its URIs decide whether the AWS connection is needed).
    :param aws_conn_id: the Airflow AWS connection for s3:// locations.
    """
    from ml_lifecycle.agent.training_jobs import LocalTrainingJobs
    from ml_lifecycle.runtime import detached_store_factory

    uris = [spec.output_path, spec.checkpoint_uri or "", *(c.uri for c in spec.channels.values())]
    return LocalTrainingJobs(
        detached_store_factory(aws_conn_id, uris), settings.home_dir(), settings.work_dir(), settings.region()
    )


def transform_runner(store_for: StoreFor) -> Any:
    """Return a TransformRunner on the local engine.

    :param store_for: returns the store for a URI.
    """
    from ml_lifecycle.agent.transform import TransformRunner

    return TransformRunner(docker_engine(), store_for, settings.work_dir(), settings.serving_host())


def local_endpoints(store_for: StoreFor) -> Any:
    """Return the LocalEndpoints manager.

    :param store_for: returns the store for a URI.
    """
    from ml_lifecycle.agent.endpoint import LocalEndpoints

    return LocalEndpoints(docker_engine(), store_for, settings.home_dir(), settings.serving_host())
