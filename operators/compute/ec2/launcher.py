"""Launch the instances of one EC2 job of any kind: stage the agent and the job document, then run_instances."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml_lifecycle.compute.ec2.fleet import Ec2Fleet
from ml_lifecycle.compute.ec2.role_profile import settings_for_role
from ml_lifecycle.compute.ec2.security_group import create_job_security_group, job_security_groups
from ml_lifecycle.compute.ec2.user_data import UserDataValues, render_user_data
from ml_lifecycle.compute.records import StoreFor
from ml_lifecycle.core.ec2.launch import deadline_minutes, instance_tags, run_instances_request
from ml_lifecycle.core.ec2.settings import Ec2Settings
from ml_lifecycle.core.ec2.spec_documents import LOG_GROUPS, JobDocument
from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.secret_refs import airflow_only
from ml_lifecycle.core.uris import ArtifactUri

BUNDLE_NAME = "agent.tar.gz"
DOCUMENT_NAME = "job.json"


@dataclass(frozen=True)
class LaunchPlan:
    """One launch of a job's instances.

    :param kind: ``training``, ``transform`` or ``endpoint``.
    :param job_name: the job's name.
    :param spec: the job's spec.
    :param owner: the Airflow identity labels.
    :param instance_type: the instance type.
    :param instance_count: how many instances.
    :param deadline_epoch_s: when the instances end themselves.
    :param record_uri: the job's record.
    :param staging: the job's staging prefix (agent bundle, job document).
    :param use_spot: launch spot instances.
    :param ami_id: the AMI, or None when the launch template names it.
    :param attempt: 1 for the first launch, 2 for the first relaunch, ... (part of the idempotency token).
    """

    kind: str
    job_name: str
    spec: Any
    owner: Mapping[str, str]
    instance_type: str
    instance_count: int
    deadline_epoch_s: int
    record_uri: str
    staging: ArtifactUri
    use_spot: bool
    ami_id: str | None
    attempt: int = 1


class JobLauncher:
    """Stages what the instances read and launches them, with the job's own security group when none is given."""

    def __init__(
        self, store_for: StoreFor, fleet: Ec2Fleet, region: str, settings: Ec2Settings, bundle: Callable[[], Path]
    ) -> None:
        """Hold the clients and launch settings.

        :param store_for: returns the store for a URI.
        :param fleet: launches instances.
        :param region: the region the instances run in.
        :param settings: the launch settings.
        :param bundle: returns the path of the agent bundle (built once and cached).
        """
        self.store_for = store_for
        self.fleet = fleet
        self.region = region
        self.settings = settings
        self.bundle = bundle

    def launch(self, plan: LaunchPlan, sink: Callable[[str], None]) -> list[str]:
        """Upload the agent bundle and the job document, then launch the instances; return their ids.

        :param plan: what to launch.
        :param sink: the task log.
        """
        instances = self.fleet.launch(self.instance_request(plan, sink), sink)
        ids = [str(i["InstanceId"]) for i in instances]
        sink(f"{plan.kind.capitalize()} job {plan.job_name}: launched {len(ids)} instance(s) {', '.join(ids)}")
        return ids

    def instance_request(self, plan: LaunchPlan, sink: Callable[[str], None]) -> dict[str, Any]:
        """Upload the agent bundle and the job document; return the run_instances request that boots the instances.

        :param plan: what to launch.
        :param sink: the task log.
        """
        refuse_airflow_secrets(plan.spec.secrets)
        settings = settings_for_role(self.fleet.iam(), self.settings, plan.spec.role_arn, sink)
        now_s = time.time()
        tags = instance_tags(plan.kind, plan.job_name, plan.owner, plan.deadline_epoch_s, self.settings.extra_tags)
        store = self.store_for(plan.staging)
        bundle_uri = plan.staging.join(BUNDLE_NAME)
        store.upload_file(str(self.bundle()), bundle_uri)
        document = JobDocument(
            job_name=plan.job_name,
            kind=plan.kind,
            spec=plan.spec,
            owner=dict(plan.owner),
            region=self.region,
            instance_count=plan.instance_count,
            deadline_epoch_s=plan.deadline_epoch_s,
            log_group=LOG_GROUPS[plan.kind],
            use_spot=plan.use_spot,
            record_uri=plan.record_uri,
            staging_uri=str(plan.staging),
            launched_at_epoch_s=now_s,
        )
        document_uri = plan.staging.join(DOCUMENT_NAME)
        store.write_bytes(document_uri, json.dumps(document.to_dict(), indent=1, sort_keys=True).encode())
        groups = list(self.settings.security_group_ids) or job_security_groups(self.fleet.ec2, plan.job_name)
        if not groups:  # the job's own group, made on its first launch and reused by a relaunch
            vpc = self.fleet.vpc_of(self.settings)
            groups = [create_job_security_group(self.fleet.ec2, plan.job_name, vpc, tags)]
        user_data = render_user_data(
            UserDataValues(
                job_name=plan.job_name,
                region=self.region,
                bundle_uri=str(bundle_uri),
                job_document_uri=str(document_uri),
                # An endpoint serves until it is deleted: no deadline, and its agent's success keeps it running.
                deadline_minutes=None if plan.kind == "endpoint" else deadline_minutes(plan.deadline_epoch_s, now_s),
                power_off_on_success=plan.kind != "endpoint",
            )
        )
        return run_instances_request(
            settings,
            instance_type=plan.instance_type,
            count=plan.instance_count,
            user_data=user_data,
            tags=tags,
            ami_id=plan.ami_id,
            security_group_ids=groups,
            use_spot=plan.use_spot,
            client_token=f"{plan.job_name}-{plan.attempt}-{int(now_s)}"[:64],
            root_device_name=self.fleet.root_device(plan.ami_id),
        )


def refuse_airflow_secrets(secrets: Mapping[str, str]) -> None:
    """Refuse, before anything is launched, secrets the instances cannot read with their role.

    :param secrets: name -> reference.
    """
    names = airflow_only(secrets)
    if names:
        raise SpecError(
            "secrets",
            f"{', '.join(names)} come from Airflow connections or variables, which EC2 instances cannot read",
            "Store them in Secrets Manager or SSM Parameter Store and reference them as secretsmanager:<id> or "
            "ssm:<name>: the instances read them with their role when the containers start",
        )


def check_launchable(spec: Any, fleet: Ec2Fleet, settings: Ec2Settings) -> None:
    """Refuse, before anything is created, what the instances could not run: Airflow-only secrets, a role in no
    instance profile.

    :param spec: the job's or endpoint's spec.
    :param fleet: the EC2 fleet (its IAM client).
    :param settings: the launch settings.
    """
    refuse_airflow_secrets(spec.secrets)
    settings_for_role(fleet.iam(), settings, spec.role_arn, lambda _: None)  # launch says which profile


def check_registry_login(image_uri: str, registry_conn_id: str | None) -> None:
    """Refuse a registry login that only Airflow holds for an image the instances would pull from outside ECR:
    instances log in to ECR with their role and read no Airflow connection.

    :param image_uri: the image the instances pull.
    :param registry_conn_id: the operator's registry_conn_id, or None.
    """
    from ml_lifecycle.core.image_ref import parse_image_ref
    from ml_lifecycle.registries.ecr import ECR_HOST

    registry = parse_image_ref(image_uri).registry
    if registry_conn_id and not ECR_HOST.match(registry):
        raise SpecError(
            "registry_conn_id",
            f"is the login of {registry or 'Docker Hub'} in an Airflow connection, which EC2 instances cannot read",
            "Push the image to Amazon ECR (PushToECROperator): the instances log in to ECR with their role",
        )
