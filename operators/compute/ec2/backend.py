"""The EC2 backend: jobs on instances launched for them and ended after them, endpoints behind load balancers."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, ClassVar

from ml_lifecycle.compute.base import Backend, JobBackend, JobLinks, ReapRequest
from ml_lifecycle.compute.endpoint_interface import EndpointBackend
from ml_lifecycle.core.job_kinds import JobKind
from ml_lifecycle.core.lost_instances import LOST_GRACE_S

DEFAULT_POLL_INTERVAL_S = 5.0


class Ec2Backend(Backend):
    """Jobs and endpoints on EC2 instances in the region of the Airflow AWS connection.

    Options it reads: ``ec2_settings`` (how instances are launched), ``use_spot`` and ``max_wait_s`` (training),
    ``poll_interval_s``, and for endpoints ``state_uri``, ``alb_subnet_ids``, ``ingress_cidrs``, ``alb_scheme``,
    ``traffic_shift``, ``bake_s`` and ``max_error_rate``.
    """

    name: ClassVar[str] = "ec2"

    def __init__(self, aws_conn_id: str | None = "aws_default", options: Any = None) -> None:
        from ml_lifecycle.compute.ec2.clients import Ec2Clients

        super().__init__(aws_conn_id, options)
        self.clients = Ec2Clients(aws_conn_id)

    def region(self) -> str:
        """Return the region of the Airflow AWS connection, where the instances run."""
        return self.clients.region

    def _poll_interval_s(self) -> float:
        """Return the poll interval the options ask for, else the default."""
        return float(self.options.get("poll_interval_s") or DEFAULT_POLL_INTERVAL_S)

    def jobs(self, kind: JobKind) -> JobBackend:
        """Return the job runner for a kind of job on EC2.

        :param kind: the job kind.
        """
        from ml_lifecycle.core.ec2.settings import Ec2Settings

        common: dict[str, Any] = {
            "kind": kind,
            "compute": self.name,
            "aws_conn_id": self.aws_conn_id,
            "clients": self.clients.jobs(),
            "settings": Ec2Settings.build(self.options.get("ec2_settings")),
            "poll_interval_s": self._poll_interval_s(),
            "lost_grace_s": float(self.options.get("lost_grace_s") or LOST_GRACE_S),
            "registry_conn_id": self.options.get("registry_conn_id") or None,
        }
        if kind.name == "training":
            from ml_lifecycle.compute.ec2.training_jobs import Ec2TrainingJobs, SpotPolicy

            spot = SpotPolicy(bool(self.options.get("use_spot")), self.options.get("max_wait_s"))
            return Ec2TrainingJobs(spot=spot, **common)
        if kind.name == "transform":
            from ml_lifecycle.compute.ec2.transform_jobs import Ec2TransformJobs

            return Ec2TransformJobs(**common)
        if kind.name == "processing":
            from ml_lifecycle.compute.ec2.processing_jobs import Ec2ProcessingJobs

            return Ec2ProcessingJobs(**common)
        raise NotImplementedError(f"the EC2 backend runs no {kind.name} jobs")

    def endpoints(self) -> EndpointBackend:
        """Return the endpoint backend (a load balancer, revisions of instances, a health watch)."""
        from ml_lifecycle.compute.ec2.endpoint_activity import Ec2EndpointActivity
        from ml_lifecycle.compute.ec2.endpoint_backend import Ec2EndpointBackend
        from ml_lifecycle.compute.ec2.endpoint_entry import EndpointEntry
        from ml_lifecycle.compute.ec2.endpoint_health import HealthWatch
        from ml_lifecycle.compute.ec2.endpoint_network import endpoint_network
        from ml_lifecycle.compute.ec2.endpoint_revisions import RevisionLauncher
        from ml_lifecycle.compute.ec2.endpoints import Ec2Endpoints
        from ml_lifecycle.compute.ec2.iam_gateway import IamGateway
        from ml_lifecycle.compute.ec2.load_balancer import LoadBalancer
        from ml_lifecycle.compute.ec2.revision_groups import RevisionGroups
        from ml_lifecycle.core.ec2.settings import Ec2Settings

        clients = self.clients
        balancer = LoadBalancer(clients.client("elbv2"))
        groups = RevisionGroups(clients.client("autoscaling"), clients.fleet.ec2)
        health = HealthWatch(
            balancer, clients.client("cloudwatch"), clients.store_for, self._poll_interval_s(), groups.members
        )
        settings = Ec2Settings.build(self.options.get("ec2_settings"))
        revisions = RevisionLauncher(
            clients.store_for,
            clients.fleet,
            balancer,
            clients.region,
            settings,
            clients.jobs().bundle,
            groups,
            self.options,
        )
        manager = Ec2Endpoints(
            clients.store_for,
            clients.fleet,
            balancer,
            health,
            revisions,
            clients.region,
            endpoint_network(self.options),
            EndpointEntry(
                clients.fleet.ec2, clients.client("acm"), balancer, IamGateway(clients.client("apigatewayv2"))
            ),
        )
        activity = Ec2EndpointActivity(
            clients.fleet, clients.client("elbv2"), clients.client("cloudwatch"), clients.store_for
        )
        return Ec2EndpointBackend(manager, self.options, clients.client("logs"), activity)

    def reap_orphans(self, request: ReapRequest) -> list[dict[str, Any]]:
        """End instances and security groups of jobs past their deadline or whose DAG run has ended; idle endpoints.

        :param request: what to reap and how.
        """
        from ml_lifecycle.compute.ec2.reaper import reap_ec2
        from ml_lifecycle.compute.idle_endpoints import reap_idle_endpoints

        reaped = reap_ec2(
            self.clients.fleet, request.run_state, match_tags=request.match_labels, dry_run=request.dry_run
        )
        idle = reap_idle_endpoints(self.endpoints(), request.match_labels, request.dry_run)
        return [asdict(r) for r in reaped] + idle

    def remove_run(self, dag_id: str, run_id: str, keep_kinds: tuple[str, ...]) -> list[str]:
        """End a DAG run's instances and security groups (never kinds to keep); return their ids.

        :param dag_id: the DAG id.
        :param run_id: the DAG run id.
        :param keep_kinds: resource kinds to leave (e.g. ``endpoint``).
        """
        from ml_lifecycle.compute.ec2.reaper import end_run

        ended = end_run(self.clients.fleet, dag_id, run_id, keep_kinds)
        return [name for job in ended for name in (*job.instances, *job.security_groups)]

    @classmethod
    def job_links(cls, job_name: str, kind: str, region: str) -> JobLinks:
        """Return the CloudWatch log streams of the job's kind and the EC2 console filtered to its instances.

        :param job_name: the job's name.
        :param kind: the job kind (it names the log group the agents write to).
        :param region: the AWS region.
        """
        from ml_lifecycle.compute.ec2 import console
        from ml_lifecycle.core.ec2.spec_documents import LOG_GROUPS

        if not job_name:
            return JobLinks()
        return JobLinks(
            logs_url=console.job_logs_url(job_name, region, LOG_GROUPS.get(kind, LOG_GROUPS["training"])),
            instances_url=console.instances_url(job_name, region),
        )
