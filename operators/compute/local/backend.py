"""The local backend: containers on the Docker engine that DOCKER_HOST (or the local socket) points at."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any, ClassVar

from ml_lifecycle import settings
from ml_lifecycle.compute.base import Backend, JobBackend, JobLinks, ReapRequest
from ml_lifecycle.compute.endpoint_interface import EndpointBackend
from ml_lifecycle.core.job_kinds import JobKind
from ml_lifecycle.core.lost_instances import LOST_GRACE_S

if TYPE_CHECKING:
    from ml_lifecycle.registries.pull_login import PullLogins

DEFAULT_POLL_INTERVAL_S = 5.0
PING_TIMEOUT_S = 2.0  # SageMaker's health check timeout


class LocalBackend(Backend):
    """Jobs in detached agents on this host, endpoints behind an nginx proxy, all on one Docker engine.

    Options it reads: ``poll_interval_s`` (between record reads when waiting for another host's agent),
    ``max_payload_mb`` (the endpoint proxy's body limit) and ``ping_timeout_s`` (describing an endpoint).
    """

    name: ClassVar[str] = "local"

    def pull_logins(self) -> PullLogins:
        """Return where image pulls get their login: ECR tokens through the AWS connection, registry_conn_id's login."""
        from ml_lifecycle.registries.pull_login import PullLogins

        return PullLogins(self.aws_conn_id, self.options.get("registry_conn_id") or None)

    def jobs(self, kind: JobKind) -> JobBackend:
        """Return the job runner for a kind of job on this engine.

        :param kind: the job kind.
        """
        from ml_lifecycle.stores import store_factory

        common: dict[str, Any] = {
            "kind": kind,
            "compute": self.name,
            "aws_conn_id": self.aws_conn_id,
            "poll_interval_s": float(self.options.get("poll_interval_s") or DEFAULT_POLL_INTERVAL_S),
            "lost_grace_s": float(self.options.get("lost_grace_s") or LOST_GRACE_S),
            "store_for": store_factory(self.aws_conn_id),
            "home": settings.home_dir(),
            "work_root": settings.work_dir(),
            "logins": self.pull_logins(),
        }
        if kind.name == "training":
            from ml_lifecycle.compute.local.training.jobs import LocalTrainingJobs

            return LocalTrainingJobs(region=settings.region(), **common)
        if kind.name == "transform":
            from ml_lifecycle.compute.local.transform.jobs import LocalTransformJobs

            return LocalTransformJobs(serving_host=settings.serving_host(), **common)
        if kind.name == "processing":
            from ml_lifecycle.compute.local.processing.contract import PROCESSING_CONTRACT
            from ml_lifecycle.compute.local.training.jobs import LocalTrainingJobs

            return LocalTrainingJobs(region=settings.region(), host_contract=PROCESSING_CONTRACT, **common)
        raise NotImplementedError(f"the local backend runs no {kind.name} jobs")

    def endpoints(self) -> EndpointBackend:
        """Return the endpoint backend (nginx in front of serving containers, updated blue/green)."""
        from ml_lifecycle.compute.local.endpoint_backend import LocalEndpointBackend, serving_limits
        from ml_lifecycle.compute.local.endpoints.endpoints import LocalEndpoints
        from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine
        from ml_lifecycle.stores import store_factory

        home = settings.home_dir()
        manager = LocalEndpoints(
            DockerEngine(),
            store_factory(self.aws_conn_id),
            home,
            settings.serving_host(),
            self.aws_conn_id,
            self.pull_logins(),
        )
        ping_timeout_s = float(self.options.get("ping_timeout_s") or PING_TIMEOUT_S)
        return LocalEndpointBackend(manager, home, serving_limits(self.options), ping_timeout_s)

    def reap_orphans(self, request: ReapRequest) -> list[dict[str, Any]]:
        """Remove the containers, networks and work folders of jobs nobody owns any more, and idle endpoints.

        :param request: what to reap and how.
        """
        from ml_lifecycle.compute.idle_endpoints import reap_idle_endpoints
        from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine
        from ml_lifecycle.compute.local.reaper import reap

        reaped = reap(
            DockerEngine(),
            request.find_record,
            settings.work_dir(),
            max_job_age_s=request.max_job_age_s,
            match_labels=request.match_labels,
            dry_run=request.dry_run,
            run_state=request.run_state,
        )
        idle = reap_idle_endpoints(self.endpoints(), request.match_labels, request.dry_run)
        return [asdict(r) for r in reaped] + idle

    def remove_run(self, dag_id: str, run_id: str, keep_kinds: tuple[str, ...]) -> list[str]:
        """Remove the containers, networks and work folders a DAG run left on the engine.

        :param dag_id: the DAG id.
        :param run_id: the DAG run id.
        :param keep_kinds: resource kinds to leave (e.g. ``endpoint``).
        """
        from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine
        from ml_lifecycle.compute.local.run_cleanup import remove_run

        return remove_run(DockerEngine(), dag_id, run_id, settings.work_dir(), keep_kinds)

    @classmethod
    def job_links(cls, job_name: str, kind: str, region: str) -> JobLinks:
        """Return the agent's log file (a local job has no machines of its own to show).

        :param job_name: the job's name.
        :param kind: the job kind.
        :param region: unused.
        """
        if not job_name:
            return JobLinks()
        return JobLinks(logs_url=f"file://{settings.home_dir() / 'logs' / 'jobs' / f'{job_name}.log'}")
