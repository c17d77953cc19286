"""Fixtures for the instance agent: moto, an unpacked agent bundle, emulated instances, and agent processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from support.ec2_fixtures import push_to_registry, pushed_serving_image  # noqa: F401
from support.helpers import managed_containers
from support.imds import InstanceIdentity, MetadataService
from support.moto import moto_server  # noqa: F401

from ml_lifecycle.compute.ec2.agent_bundle import build_agent_bundle
from ml_lifecycle.core.ec2.spec_documents import JobDocument
from ml_lifecycle.core.naming import RunIdentity
from ml_lifecycle.core.specs import TrainingSpec
from ml_lifecycle.core.status import JobRecord

REGION = "us-east-1"
BUCKET = "agent-bucket"
IMAGE_REPOSITORY = "127.0.0.1:5000/ml-lifecycle-test/linear-agent"
AGENT_TIMEOUT_S = 300.0
OWNER = RunIdentity(dag_id="agent_tests", task_id="train", run_id="manual__1").labels()


@pytest.fixture(scope="session")
def agent_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The agent bundle built from the installed code and unpacked: the agent's whole PYTHONPATH."""
    bundle = build_agent_bundle(tmp_path_factory.mktemp("bundle-cache"))
    target = tmp_path_factory.mktemp("agent")
    with tarfile.open(bundle) as tar:
        tar.extractall(target, filter="data")
    return target


@pytest.fixture(scope="session")
def pushed_image(example_image: str, registry: str, docker_client: Any) -> str:
    """The example image pushed to the local registry, by digest (as PushToECR hands it on)."""
    return push_to_registry(docker_client, example_image, IMAGE_REPOSITORY)


@pytest.fixture
def aws(moto_server: str) -> SimpleNamespace:  # noqa: F811
    """boto3 clients on the moto server and a bucket."""
    clients = {name: boto3.client(name, endpoint_url=moto_server, region_name=REGION) for name in ("s3", "ec2", "logs")}
    clients["s3"].create_bucket(Bucket=BUCKET)
    return SimpleNamespace(endpoint=moto_server, **clients)


class Harness:
    """Emulated instances (moto + a metadata service each) and agent processes for one test.

    :param aws: the moto clients.
    :param agent_path: the unpacked agent bundle.
    :param tmp_path: the test's scratch folder.
    """

    def __init__(self, aws: SimpleNamespace, agent_path: Path, tmp_path: Path) -> None:
        self.aws = aws
        self.agent_path = agent_path
        self.tmp_path = tmp_path
        self.job_name = f"agent-{uuid.uuid4().hex[:10]}"
        self.services: list[MetadataService] = []
        self.processes: list[subprocess.Popen[bytes]] = []

    @property
    def out_prefix(self) -> str:
        """``<output_path>/<job>`` as a key prefix."""
        return f"out/{self.job_name}"

    def upload_channel(self, folder: Path) -> str:
        """Copy a folder's files into moto S3 and return the channel URI.

        :param folder: the local folder.
        """
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            key = f"data/{self.job_name}/{path.relative_to(folder).as_posix()}"
            self.aws.s3.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes())
        return f"s3://{BUCKET}/data/{self.job_name}"

    def write_document(self, spec: TrainingSpec, instance_count: int = 1) -> str:
        """Write the job document into the staging prefix and return its URI.

        :param spec: the training spec.
        :param instance_count: the number of hosts.
        """
        now_s = time.time()
        document = JobDocument(
            job_name=self.job_name,
            spec=spec,
            owner=OWNER,
            region=REGION,
            instance_count=instance_count,
            deadline_epoch_s=int(now_s + 3600),
            record_uri=f"s3://{BUCKET}/{self.out_prefix}/status.json",
            staging_uri=f"s3://{BUCKET}/{self.out_prefix}/staging",
            launched_at_epoch_s=now_s,
        )
        key = f"{self.out_prefix}/staging/job.json"
        self.aws.s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(document.to_dict()).encode())
        return f"s3://{BUCKET}/{key}"

    def launch(self, count: int = 1) -> list[MetadataService]:
        """Run count instances in moto with the job's tags, and a metadata service for each.

        :param count: how many instances (one run_instances call, so launch indexes 0..count-1).
        """
        image_id = self.aws.ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        tags = {"ml-lifecycle.managed": "true", "ml-lifecycle.kind": "training", "ml-lifecycle.job": self.job_name}
        tags.update(OWNER, Name=self.job_name)
        instances = self.aws.ec2.run_instances(
            ImageId=image_id,
            MinCount=count,
            MaxCount=count,
            InstanceType="m5.large",
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}],
        )["Instances"]
        services = []
        for instance in sorted(instances, key=lambda i: i["AmiLaunchIndex"]):
            identity = InstanceIdentity(
                instance_id=instance["InstanceId"],
                launch_index=int(instance["AmiLaunchIndex"]),
                private_ip=instance["PrivateIpAddress"],
                region=REGION,
            )
            services.append(MetadataService(identity))
        self.services.extend(services)
        return services

    def terminate(self, service: MetadataService) -> None:
        """Terminate an instance in moto, as EC2 does after a spot reclaim.

        :param service: the instance's metadata service.
        """
        self.aws.ec2.terminate_instances(InstanceIds=[service.identity.instance_id])

    def start_agent(self, document_uri: str, service: MetadataService) -> subprocess.Popen[bytes]:
        """Start ``python -S -m ml_lifecycle.agent.instance`` with only the bundle on its path, as user data does.

        :param document_uri: the job document.
        :param service: the instance's metadata service (its role credentials are the agent's only ones).
        """
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON", "AIRFLOW"))}
        env.update(
            PYTHONPATH=str(self.agent_path),
            AWS_ENDPOINT_URL=self.aws.endpoint,
            AWS_EC2_METADATA_SERVICE_ENDPOINT=service.endpoint,
            AWS_CONFIG_FILE=str(self.tmp_path / "no-aws-config"),
            AWS_SHARED_CREDENTIALS_FILE=str(self.tmp_path / "no-aws-credentials"),
            ML_LIFECYCLE_WORK_ROOT=str(self.tmp_path / f"work-{service.identity.instance_id}"),
        )
        log_path = self.tmp_path / f"agent-{service.identity.instance_id}.log"
        with log_path.open("ab") as log_file:
            process = subprocess.Popen(
                [sys.executable, "-S", "-m", "ml_lifecycle.agent.instance", document_uri],
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        process.log_path = log_path  # type: ignore[attr-defined]
        self.processes.append(process)
        return process

    def wait(self, process: subprocess.Popen[bytes], timeout_s: float = AGENT_TIMEOUT_S) -> int:
        """Wait for an agent to exit and return its exit code; fail with its log when it takes too long.

        :param process: the agent process.
        :param timeout_s: the most seconds to wait.
        """
        try:
            return process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            pytest.fail(f"The agent did not exit within {timeout_s} s:\n{self.log(process)}")

    @staticmethod
    def log(process: subprocess.Popen[bytes]) -> str:
        """Return an agent's output.

        :param process: the agent process.
        """
        return Path(process.log_path).read_text(errors="replace")  # type: ignore[attr-defined]

    def record(self) -> JobRecord | None:
        """Read the job record from moto S3, or None when there is none."""
        try:
            body = self.aws.s3.get_object(Bucket=BUCKET, Key=f"{self.out_prefix}/status.json")["Body"].read()
        except self.aws.s3.exceptions.NoSuchKey:
            return None
        return JobRecord.from_dict(json.loads(body))

    def object(self, key: str) -> bytes:
        """Read an object of the bucket.

        :param key: the key.
        """
        return self.aws.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()

    def keys(self, prefix: str) -> list[str]:
        """List the bucket's keys below a prefix.

        :param prefix: the key prefix.
        """
        pages = self.aws.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def log_lines(self, host: str) -> list[str]:
        """Return the CloudWatch Logs lines of one host of the job.

        :param host: the host name.
        """
        group = "/aws/ml-lifecycle/TrainingJobs"
        events = self.aws.logs.get_log_events(
            logGroupName=group, logStreamName=f"{self.job_name}/{host}", startFromHead=True
        )["events"]
        return [event["message"] for event in events]

    @staticmethod
    def wait_until(condition: Any, what: str, timeout_s: float = 120.0) -> Any:
        """Poll condition until it returns a true value and return that; fail naming what never happened.

        :param condition: a callable.
        :param what: what is awaited, for the failure message.
        :param timeout_s: the most seconds to wait.
        """
        deadline_s = time.monotonic() + timeout_s
        while time.monotonic() < deadline_s:
            value = condition()
            if value:
                return value
            time.sleep(0.5)
        pytest.fail(f"Timed out after {timeout_s} s waiting for {what}")

    def close(self) -> None:
        """Kill agents still running and stop the metadata services (after a failed test)."""
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)
        for service in self.services:
            service.stop()


@pytest.fixture
def harness(aws: SimpleNamespace, agent_path: Path, tmp_path: Path, docker_client: Any) -> Iterator[Harness]:
    """A Harness for one test; afterwards no container of its job may be left on the engine."""
    harness = Harness(aws, agent_path, tmp_path)
    try:
        yield harness
    finally:
        harness.close()
    leftovers = managed_containers(docker_client, job=harness.job_name)
    for container in leftovers:
        container.remove(force=True)
    assert not leftovers, f"containers left behind: {[c.name for c in leftovers]}"
