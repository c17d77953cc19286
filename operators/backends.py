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


def ec2_training_jobs(
    aws_conn_id: str | None, launch_settings: Any, use_spot: bool, max_wait_s: int | None, poll_interval_s: float
) -> Any:
    """Return the EC2 training job manager, with clients built from the Airflow AWS connection.

    :param aws_conn_id: the Airflow AWS connection.
    :param launch_settings: the Ec2Settings.
    :param use_spot: launch spot instances.
    :param max_wait_s: how long interrupted spot jobs are relaunched, or None.
    :param poll_interval_s: seconds between reads of the record, the instances and the logs.
    """
    from ml_lifecycle.compute.ec2.training_jobs import Ec2TrainingJobs, SpotPolicy

    return Ec2TrainingJobs(
        _ec2_job_clients(aws_conn_id), launch_settings, SpotPolicy(use_spot, max_wait_s), poll_interval_s
    )


def ec2_transform_jobs(
    aws_conn_id: str | None, launch_settings: Any, instance_type: str, max_runtime_s: int, poll_interval_s: float
) -> Any:
    """Return the EC2 transform job manager, with clients built from the Airflow AWS connection.

    :param aws_conn_id: the Airflow AWS connection.
    :param launch_settings: the Ec2Settings.
    :param instance_type: the instance type of every host.
    :param max_runtime_s: seconds the transform may run (sets the instances' deadline).
    :param poll_interval_s: seconds between reads of the record, the instances and the logs.
    """
    from ml_lifecycle.compute.ec2.transform_jobs import Ec2TransformJobs

    return Ec2TransformJobs(
        _ec2_job_clients(aws_conn_id), launch_settings, instance_type, max_runtime_s, poll_interval_s
    )


def _ec2_job_clients(aws_conn_id: str | None) -> Any:
    """Return what every EC2 job manager is built from: stores, fleet, logs client, region and agent bundle.

    :param aws_conn_id: the Airflow AWS connection.
    """
    from ml_lifecycle.aws_clients import client_factory
    from ml_lifecycle.compute.ec2.agent_bundle import build_agent_bundle
    from ml_lifecycle.compute.ec2.fleet import Ec2Fleet
    from ml_lifecycle.compute.ec2.job_common import Ec2JobClients
    from ml_lifecycle.runtime import store_factory

    ec2 = client_factory("ec2", aws_conn_id)
    return Ec2JobClients(
        store_for=store_factory(aws_conn_id),
        fleet=Ec2Fleet(ec2, client_factory("ssm", aws_conn_id), client_factory("iam", aws_conn_id)),
        logs=client_factory("logs", aws_conn_id),
        region=str(ec2().meta.region_name),
        bundle=lambda: build_agent_bundle(settings.home_dir() / "cache" / "agent"),
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


def ec2_endpoints(aws_conn_id: str | None, launch_settings: Any, network: Any, poll_interval_s: float = 5.0) -> Any:
    """Return the EC2 endpoint manager (load balancer, revisions, health watch) on the Airflow AWS connection.

    :param aws_conn_id: the Airflow AWS connection.
    :param launch_settings: the instances' Ec2Settings.
    :param network: the EndpointNetwork (load balancer subnets, callers, scheme).
    :param poll_interval_s: seconds between health checks.
    """
    from ml_lifecycle.aws_clients import client_factory
    from ml_lifecycle.compute.ec2.agent_bundle import build_agent_bundle
    from ml_lifecycle.compute.ec2.endpoint_health import HealthWatch
    from ml_lifecycle.compute.ec2.endpoint_revisions import RevisionLauncher
    from ml_lifecycle.compute.ec2.endpoints import Ec2Endpoints
    from ml_lifecycle.compute.ec2.fleet import Ec2Fleet
    from ml_lifecycle.compute.ec2.load_balancer import LoadBalancer
    from ml_lifecycle.runtime import store_factory

    ec2 = client_factory("ec2", aws_conn_id)
    fleet = Ec2Fleet(ec2, client_factory("ssm", aws_conn_id), client_factory("iam", aws_conn_id))
    balancer = LoadBalancer(client_factory("elbv2", aws_conn_id))
    store_for = store_factory(aws_conn_id)
    region = str(ec2().meta.region_name)
    health = HealthWatch(balancer, client_factory("cloudwatch", aws_conn_id), store_for, poll_interval_s)
    bundle = lambda: build_agent_bundle(settings.home_dir() / "cache" / "agent")  # noqa: E731
    revisions = RevisionLauncher(store_for, fleet, balancer, region, launch_settings, bundle)
    return Ec2Endpoints(store_for, fleet, balancer, health, revisions, region, network)
