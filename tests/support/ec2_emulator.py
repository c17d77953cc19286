"""Boot the instances that moto launches: run each one's user data, as cloud-init would, in a local container.

moto records instances but runs nothing. This emulator plays the hypervisor: it watches moto for instances
carrying our tags, and for each one starts a container of the offline base image with the user data as its
command, the Docker socket (the instance's engine), host networking (so it reaches moto, the registry and its
metadata service), its own IMDSv2 (tests/support/imds.py) and a ``shutdown`` command that asks the emulator to
end the instance. Each instance shares the host's network, so each gets its own serving port (ML_LIFECYCLE_SERVING_PORT,
where an endpoint host publishes its model's 8080): two instances at once, or another test's, never collide on 8080. ``shutdown -h now`` terminates the instance in moto; ``shutdown -h +N`` arms a deadline that
terminates it (and kills its container) N minutes later, scaled by ``seconds_per_minute`` so tests can wait
for it; an instance that moto shows terminated (the operator ended it) has its container killed, as EC2 would.
"""

from __future__ import annotations

import base64
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.imds import ROLE_NAME, InstanceIdentity, MetadataService
from support.moto import free_port

INSTANCE_IMAGE = "python:3.11-slim"
EMULATOR_LABEL = "ml-lifecycle-test.emulated-instance"
# Which pytest session booted an instance: sessions sharing an engine (a developer's and CI's) check only their own.
SESSION_LABEL = "ml-lifecycle-test.session"
SESSION_ID = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
POLL_S = 0.2
SHUTDOWN_SHIM = """#!/bin/sh
# The emulated instance's shutdown: ask the hypervisor (the test's emulator) through the metadata service.
exec python3 -c 'import sys, urllib.request
req = urllib.request.Request(sys.argv[1].rstrip("/") + "/emulator/shutdown", data=" ".join(sys.argv[2:]).encode(),
                             method="POST")
urllib.request.urlopen(req, timeout=10).read()' "$AWS_EC2_METADATA_SERVICE_ENDPOINT" "$@"
"""


@dataclass
class EmulatedInstance:
    """One booted instance.

    :param instance_id: the moto instance id.
    :param metadata: its metadata service.
    :param container: its container.
    :param booted_at_s: when the emulator started its container (time.time()).
    :param deadline_s: when its ``shutdown -h +N`` fires (time.time()), or None.
    :param job_name: the job its ``ml-lifecycle.job`` tag names.
    :param deadline_s: when its ``shutdown -h +N`` fires (time.time()), or None.
    :param terminated_by: ``shutdown``, ``deadline`` or ``ec2`` once it ended.
    :param shutdowns: the arguments of each shutdown call, in order.
    :param console: the container's output (the user data's log), kept when the instance ends.
    :param serving_port: the host port an endpoint host on it publishes its model's 8080 on.
    """

    instance_id: str
    metadata: MetadataService
    container: Any
    booted_at_s: float
    job_name: str
    deadline_s: float | None = None
    terminated_by: str | None = None
    shutdowns: list[str] = field(default_factory=list)
    console: str = ""
    serving_port: int = 0


class Ec2Emulator:
    """Boots moto's instances in containers until stopped; use as a context manager."""

    def __init__(
        self,
        docker_client: Any,
        ec2: Any,
        moto_endpoint: str,
        work_root: Path,
        *,
        seconds_per_minute: float = 60.0,
        image: str = INSTANCE_IMAGE,
    ) -> None:
        """Hold what the instances need.

        :param docker_client: the docker SDK client of the engine the instances use.
        :param ec2: a boto3 EC2 client of the moto server.
        :param moto_endpoint: the moto server URL, given to instances as AWS_ENDPOINT_URL.
        :param work_root: a host folder mounted at the same path in every instance (ML_LIFECYCLE_WORK_ROOT), so
            the bind mounts the agent asks the engine for name the same files.
        :param seconds_per_minute: how long one minute of ``shutdown -h +N`` lasts here.
        :param image: the instances' image.
        """
        self.docker = docker_client
        self.ec2 = ec2
        self.moto_endpoint = moto_endpoint
        self.work_root = work_root
        self.seconds_per_minute = seconds_per_minute
        self.image = image
        self.instances: dict[str, EmulatedInstance] = {}
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._shim_dir = work_root / "emulator-bin"

    def __enter__(self) -> Ec2Emulator:
        """Start watching moto."""
        self._shim_dir.mkdir(parents=True, exist_ok=True)
        shim = self._shim_dir / "shutdown"
        shim.write_text(SHUTDOWN_SHIM)
        shim.chmod(0o755)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop watching, kill every instance container and stop the metadata services."""
        self._stop.set()
        self._thread.join(timeout=30)
        for instance in list(self.instances.values()):
            self._kill(instance)
            instance.metadata.stop()
        # A removal another thread started may still be in progress: wait until the engine lists none.
        deadline = time.monotonic() + 30
        # sparse: listed without inspecting each, so a container removed meanwhile (by any emulator) is no error.
        while self._left() and time.monotonic() < deadline:
            time.sleep(POLL_S)

    def _left(self) -> list[Any]:
        """Return the containers of this emulator's instances the engine still lists (without inspecting them)."""
        listed = self.docker.containers.list(all=True, sparse=True, filters={"label": EMULATOR_LABEL})
        return [c for c in listed if (c.attrs.get("Labels") or {}).get(EMULATOR_LABEL) in self.instances]

    def instance(self, instance_id: str) -> EmulatedInstance:
        """Return a booted instance by id.

        :param instance_id: the moto instance id.
        """
        return self.instances[instance_id]

    def wait_booted(self, count: int, timeout_s: float = 60.0) -> list[EmulatedInstance]:
        """Wait until count instances were booted and return them.

        :param count: how many.
        :param timeout_s: how long to wait.
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if len(self.instances) >= count:
                return list(self.instances.values())
            time.sleep(POLL_S)
        raise TimeoutError(f"only {len(self.instances)} of {count} instances booted; errors: {self.errors}")

    def wait_ended(self, instance: EmulatedInstance, timeout_s: float = 30.0) -> str:
        """Wait until the emulator has ended an instance (it notices EC2's terminations on its next poll); return how.

        :param instance: the instance.
        :param timeout_s: how long to wait.
        """
        deadline = time.monotonic() + timeout_s
        while instance.terminated_by is None and time.monotonic() < deadline:
            time.sleep(POLL_S)
        if instance.terminated_by is None:
            raise TimeoutError(f"{instance.instance_id} was not ended; errors: {self.errors}")
        return instance.terminated_by

    def _loop(self) -> None:
        """Boot new instances, apply shutdowns and deadlines, kill containers of instances moto shows terminated."""
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception as err:  # the test reads errors; the loop must keep running
                self.errors.append(repr(err))
            time.sleep(POLL_S)

    def _tick(self) -> None:
        """One pass of the loop."""
        pages = self.ec2.get_paginator("describe_instances").paginate(
            Filters=[{"Name": "tag:ml-lifecycle.managed", "Values": ["true"]}]
        )
        described = {i["InstanceId"]: i for p in pages for r in p["Reservations"] for i in r["Instances"]}
        for instance_id, info in described.items():
            state = info["State"]["Name"]
            known = self.instances.get(instance_id)
            if known is None and state in ("pending", "running"):
                self._boot(info)
            elif known is not None and state in ("shutting-down", "terminated") and known.terminated_by is None:
                known.terminated_by = "ec2"
                self._kill(known)
        now = time.time()
        for instance in list(self.instances.values()):
            if instance.terminated_by is None and instance.deadline_s is not None and now >= instance.deadline_s:
                self._terminate(instance, "deadline")

    def _role_of(self, profile_arn: str) -> str:
        """Return the role an instance profile holds, as IAM (moto) says; the default one without a profile.

        :param profile_arn: the instance's IamInstanceProfile ARN, or "".
        """
        if not profile_arn:
            return ROLE_NAME
        import boto3

        iam = boto3.client("iam", endpoint_url=self.moto_endpoint, region_name="us-east-1")
        profile = iam.get_instance_profile(InstanceProfileName=profile_arn.rsplit("/", 1)[-1])["InstanceProfile"]
        return str(profile["Roles"][0]["RoleName"]) if profile["Roles"] else ROLE_NAME

    def _boot(self, info: dict[str, Any]) -> None:
        """Start one instance's container running its user data.

        :param info: the instance as moto describes it.
        """
        instance_id = info["InstanceId"]
        encoded = self.ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="userData")["UserData"]
        user_data = base64.b64decode(encoded.get("Value", "")).decode()
        script = self.work_root / "emulator-user-data" / f"{instance_id}.sh"
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(user_data)
        script.chmod(0o755)
        identity = InstanceIdentity(
            instance_id=instance_id,
            launch_index=int(info.get("AmiLaunchIndex", 0)),
            private_ip=str(info.get("PrivateIpAddress", "10.0.0.10")),
            instance_type=str(info.get("InstanceType", "m5.large")),
            role_name=self._role_of(str((info.get("IamInstanceProfile") or {}).get("Arn", ""))),
        )
        tags = {t["Key"]: t["Value"] for t in info.get("Tags", [])}
        metadata = MetadataService(identity)
        # Registered before its container starts: the user data calls shutdown (the deadline) at once.
        instance = EmulatedInstance(instance_id, metadata, None, time.time(), tags.get("ml-lifecycle.job", ""))
        instance.serving_port = free_port()
        metadata.on_shutdown = lambda body: self._on_shutdown(instance, body)
        with self._lock:
            self.instances[instance_id] = instance
        instance.container = self.docker.containers.run(
            self.image,
            ["/bin/bash", str(script)],
            detach=True,
            network_mode="host",
            labels={EMULATOR_LABEL: instance_id, SESSION_LABEL: SESSION_ID},
            environment={
                "AWS_ENDPOINT_URL": self.moto_endpoint,
                "AWS_EC2_METADATA_SERVICE_ENDPOINT": metadata.endpoint,
                "ML_LIFECYCLE_WORK_ROOT": str(self.work_root / "instances" / instance_id),
                "ML_LIFECYCLE_SERVING_PORT": str(instance.serving_port),
                "PATH": f"{self._shim_dir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            },
            volumes={
                "/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"},
                str(self.work_root): {"bind": str(self.work_root), "mode": "rw"},
            },
        )

    def _on_shutdown(self, instance: EmulatedInstance, body: str) -> None:
        """Apply a shutdown request from the instance: now, or a deadline ``+N`` minutes away.

        :param instance: the instance.
        :param body: the shutdown command's arguments (``-h now``, ``-h +25``).
        """
        instance.shutdowns.append(body)
        later = re.search(r"\+(\d+)", body)
        if later:
            instance.deadline_s = time.time() + int(later.group(1)) * self.seconds_per_minute
        elif "-c" not in body.split():
            # Shutdown of the machine: EC2 terminates it (InstanceInitiatedShutdownBehavior=terminate).
            threading.Thread(target=self._terminate, args=(instance, "shutdown"), daemon=True).start()

    def _terminate(self, instance: EmulatedInstance, reason: str) -> None:
        """End an instance: terminate it in moto and kill its container.

        :param instance: the instance.
        :param reason: ``shutdown`` or ``deadline``.
        """
        if instance.terminated_by is not None:
            return
        instance.terminated_by = reason
        # A halting machine lets its shutdown command return before it powers off.
        time.sleep(0.5)
        self.ec2.terminate_instances(InstanceIds=[instance.instance_id])
        self._kill(instance)

    def _kill(self, instance: EmulatedInstance) -> None:
        """Power the instance off: remove its container and the containers it started on the engine.

        :param instance: the instance.
        """
        if instance.container is None:
            return
        try:
            instance.console = instance.container.logs().decode(errors="replace")
            instance.container.remove(force=True)
        except Exception as err:
            if "No such container" not in str(err) and "is already in progress" not in str(err):
                self.errors.append(repr(err))
        if instance.job_name:
            started = self.docker.containers.list(all=True, filters={"label": f"ml-lifecycle.job={instance.job_name}"})
            for container in started:
                if _started_by(container.labels) in (None, instance.instance_id):
                    try:
                        container.remove(force=True)
                    except Exception as err:
                        self.errors.append(repr(err))


def _started_by(container_labels: dict[str, str]) -> str | None:
    """Return the instance a container on the shared engine belongs to, or None when its labels do not say.

    A job's containers name it in ``ml-lifecycle.instance-id``; an endpoint host's serving container in
    ``ml-lifecycle.host`` (a training container's host label is ``algo-N``, not an instance): killing one instance of
    a revision must not kill the serving container of another instance of the same revision.

    :param container_labels: the container's labels.
    """
    if "ml-lifecycle.instance-id" in container_labels:
        return container_labels["ml-lifecycle.instance-id"]
    if container_labels.get("ml-lifecycle.kind") == "endpoint":
        return container_labels.get("ml-lifecycle.host")
    return None
