"""The places the backend contract suite runs on: each registered backend, with real engines behind it.

``local`` runs on the Docker engine with file:// data. ``ec2`` runs against a moto server whose instances the
emulator boots (their user data runs in containers, as cloud-init would), with s3:// data and the example image
pushed to the local registry. A new backend joins by adding a Place here; it is accepted when the suite passes.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from support.ec2_fixtures import BUCKET, INSTANCE_PROFILE, aws, emulator, no_emulated_instance_left, pushed_image  # noqa: F401
from support.models import linear_model_archive
from support.moto import moto_server  # noqa: F401

from ml_lifecycle.compute import backend_for
from ml_lifecycle.compute.base import Backend
from ml_lifecycle.core.processing_spec import ProcessingSpec
from ml_lifecycle.core.specs import TrainingSpec, TransformSpec
from ml_lifecycle.core.status import JobRecord

WEIGHTS = [1.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5]
ROWS = "".join(f"{i},1,0,0,0,0,0,2\n" for i in range(40))
GOOD_ROW_PREDICTION = 1.0 * 0 + 2.0 + 0.5 * 2 + 0.5  # the first row's, with an intercept of 0.5


@dataclass
class Place:
    """One backend as the contract suite drives it: its specs, and how to look at (and break) what runs a job.

    :param name: the registered compute name.
    :param backend: the backend, with options that keep the suite quick (short polls and lost grace).
    :param image: an image every host of this backend can run.
    :param channel: the training data's URI.
    :param root: the URI below which each test writes.
    :param put: writes bytes to a URI below root.
    :param get: reads an object below root, or None when it is missing.
    :param alive: job name -> what runs it now (container or instance ids).
    :param created: job name -> how many containers or instances were ever made for it.
    :param lose: ends what runs a job abruptly (SIGKILL of its agent; EC2 reclaiming its instances).
    :param jam_cleanup: (job name, kind name) -> a Jam that makes removing the job's resources fail, or a string
        saying why this backend's stand-in offers no such fault for that kind.
    """

    name: str
    backend: Backend
    image: str
    channel: str
    root: str
    put: Callable[[str, bytes], None]
    get: Callable[[str], bytes | None]
    alive: Callable[[str], list[str]]
    created: Callable[[str], int]
    lose: Callable[[str, JobRecord | None], None]
    jam_cleanup: Callable[[str, str], Any]
    extras: dict[str, Any] = field(default_factory=dict)

    def training(self, script: str | None = None, **overrides: Any) -> TrainingSpec:
        """Return a training spec of this place: the example image's ``train``, or a shell script instead.

        :param script: a shell script run as the container's entrypoint, or None for ``train``.
        :param overrides: more TrainingSpec.build arguments.
        """
        args: dict[str, Any] = {
            "image_uri": self.image,
            "channels": {"train": self.channel},
            "output_path": f"{self.root}/training",
            "max_runtime_s": 300,
            **({"entrypoint": ["sh", "-c", script]} if script else {}),
        }
        args.update(overrides)
        return TrainingSpec.build(**args)

    def processing(self, script: str | None = None, **overrides: Any) -> ProcessingSpec:
        """Return a processing spec of this place: a shell script over the training data, writing one output.

        :param script: the shell script run as ContainerArguments of ``sh -c``; None copies the input to the output.
        :param overrides: more ProcessingSpec.build arguments.
        """
        args: dict[str, Any] = {
            "image_uri": self.image,
            "records_uri": f"{self.root}/processing-records",
            "inputs": [{"name": "raw", "source": self.channel, "local_path": "/opt/ml/processing/input"}],
            "outputs": [
                {"name": "out", "local_path": "/opt/ml/processing/output", "destination": f"{self.root}/processed"}
            ],
            "entrypoint": ["sh", "-c"],
            "arguments": [script or "cp -r /opt/ml/processing/input/. /opt/ml/processing/output/"],
            "max_runtime_s": 300,
        }
        args.update(overrides)
        return ProcessingSpec.build(**args)

    def transform(self, rows: str = ROWS, **overrides: Any) -> TransformSpec:
        """Return a transform spec of this place: the example image serving the known linear model over rows.

        :param rows: the input CSV.
        :param overrides: more TransformSpec fields.
        """
        self.put(f"{self.root}/score/a.csv", rows.encode())
        args: dict[str, Any] = {
            "image_uri": self.image,
            "model_uri": self.extras["model_uri"],
            "input_uri": f"{self.root}/score",
            "output_uri": f"{self.root}/scored",
            "content_type": "text/csv",
            "max_runtime_s": 300,
        }
        args.update(overrides)
        return TransformSpec(**args)


QUICK = {"poll_interval_s": 0.5, "lost_grace_s": 2.0}
# A local transform creates no network (its containers publish ports) and removes its containers itself, so nothing
# of it is left for a jam to hold: the engine offers no other way to make a removal fail without stopping it.
NO_LOCAL_TRANSFORM_JAM = "a local transform leaves nothing a real fault could make its cleanup fail on"


def _docker_created(docker_client: Any, since: float) -> Callable[[str], int]:
    """Count the containers the engine created for a job since a time (its create events).

    :param docker_client: the docker SDK client.
    :param since: the UNIX time to count from.
    """

    def created(job: str) -> int:
        events = docker_client.events(
            since=int(since),
            until=int(time.time()) + 1,
            filters={"type": "container", "event": "create", "label": f"ml-lifecycle.job={job}"},
            decode=True,
        )
        return len(list(events))

    return created


class Jam:
    """Holds a job's resource with something of someone else's as soon as it appears, until the block ends.

    Use as a context manager around the job's run; ``held`` says whether the jam was in place.

    :param appear: returns the resource once it exists, else None.
    :param hold: holds it; returns what releases it.
    """

    def __init__(self, appear: Callable[[], Any], hold: Callable[[Any], Callable[[], None]]) -> None:
        self.appear = appear
        self.hold = hold
        self.held = False
        self.error = ""
        self._release: Callable[[], None] | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        """Wait for the resource, then hold it (what went wrong is kept in ``error``)."""
        while not self._done.is_set():
            try:
                resource = self.appear()
                if resource:
                    self._release = self.hold(resource)
                    self.held = True
                    return
            except Exception as err:  # it went away as it was held (the engine's probe network): look again
                self.error = repr(err)
            time.sleep(0.05)

    def __enter__(self) -> Jam:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=30)
        if self._release is not None:
            self._release()


def _network_jam(docker_client: Any, image: str, job: str) -> Jam:
    """Hold the job's network with a container of someone else's, so that removing the network fails.

    :param docker_client: the docker SDK client.
    :param image: an image to run.
    :param job: the job (its network is ``mlc-<job>``).
    """

    def hold(network: Any) -> Callable[[], None]:
        holder = docker_client.containers.create(image, ["sleep", "300"], entrypoint=[])
        try:
            network.reload()
            subnet = network.attrs["IPAM"]["Config"][0]["Subnet"]  # the job's hosts have fixed addresses at its start
            network.connect(holder, ipv4_address=str(ipaddress.ip_network(subnet)[-2]))
            holder.start()
        except Exception:
            holder.remove(force=True)
            raise
        return lambda: holder.remove(force=True)

    def appear() -> Any:
        # The engine first makes an internal probe of the same name to learn a free subnet; the job's is not internal.
        found = docker_client.networks.list(names=[f"mlc-{job}"], filters={"label": f"ml-lifecycle.job={job}"})
        return next((n for n in found if not n.attrs.get("Internal")), None)

    return Jam(appear, hold)


def _local_place(tmp_path: Path, example_image: str, sample_data: Path, docker_client: Any) -> Place:
    """Build the local place: the Docker engine, file:// data.

    :param tmp_path: the test's folder.
    :param example_image: the example image.
    :param sample_data: the sample data.
    :param docker_client: the docker SDK client.
    """
    root = tmp_path / "data"

    def put(uri: str, data: bytes) -> None:
        path = Path(uri.removeprefix("file://"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def get(uri: str) -> bytes | None:
        path = Path(uri.removeprefix("file://"))
        return path.read_bytes() if path.is_file() else None

    def alive(job: str) -> list[str]:
        found = docker_client.containers.list(filters={"label": f"ml-lifecycle.job={job}"})
        return [c.name for c in found]

    def lose(job: str, record: JobRecord | None) -> None:
        assert record is not None and record.agent.get("pid"), "the job's record names no agent"
        os.kill(int(record.agent["pid"]), signal.SIGKILL)

    model = linear_model_archive(tmp_path / "model" / "model.tar.gz", WEIGHTS, intercept=0.5)
    return Place(
        name="local",
        backend=backend_for("local", None, QUICK),
        image=example_image,
        channel=f"file://{sample_data}/train",
        root=f"file://{root}",
        put=put,
        get=get,
        alive=alive,
        created=_docker_created(docker_client, time.time() - 1),
        lose=lose,
        jam_cleanup=lambda job, kind: (
            _network_jam(docker_client, example_image, job) if kind != "transform" else NO_LOCAL_TRANSFORM_JAM
        ),
        extras={"model_uri": model},
    )


def _security_group_jam(clients: SimpleNamespace, backend: Any, job: str) -> Jam:
    """Have EC2 refuse to delete the job's security group, as AWS does when the role lacks ec2:DeleteSecurityGroup.

    moto (5.2) checks no IAM policy (unless the whole server enforces them) and deletes a group whatever still uses
    it, so the refusal is raised where the AWS SDK sends the call: botocore's before-call event on the EC2 client the
    backend works with. Nothing of ours is replaced; the SDK answers as it would for AWS's UnauthorizedOperation.

    :param clients: the moto clients.
    :param backend: the EC2 backend (its EC2 client is the one that must meet the refusal).
    :param job: the job.
    """
    from botocore.exceptions import ClientError

    def refuse(**kwargs: Any) -> None:
        error = {"Code": "UnauthorizedOperation", "Message": "You are not authorized to perform this operation."}
        raise ClientError({"Error": error}, "DeleteSecurityGroup")

    def appear() -> Any:
        found = clients.ec2.describe_security_groups(Filters=[{"Name": "tag:ml-lifecycle.job", "Values": [job]}])
        return next(iter(found["SecurityGroups"]), None)

    def hold(group: Any) -> Callable[[], None]:
        events = backend.clients.fleet.ec2().meta.events
        events.register("before-call.ec2.DeleteSecurityGroup", refuse, unique_id=f"jam-{job}")
        return lambda: events.unregister("before-call.ec2.DeleteSecurityGroup", unique_id=f"jam-{job}")

    return Jam(appear, hold)


def _ec2_place(clients: SimpleNamespace, image: str, sample_data: Path, tmp_path: Path) -> Place:
    """Build the EC2 place: moto with emulated instances, s3:// data, the image in the local registry.

    :param clients: the moto clients (aws_default points at moto).
    :param image: the example image by digest in the local registry.
    :param sample_data: the sample data.
    :param tmp_path: the test's folder.
    """
    prefix = f"contract-{uuid.uuid4().hex[:8]}"
    for path in sorted((sample_data / "train").iterdir()):
        clients.s3.upload_file(str(path), BUCKET, f"{prefix}/train/{path.name}")

    def key(uri: str) -> str:
        return uri.removeprefix(f"s3://{BUCKET}/")

    def put(uri: str, data: bytes) -> None:
        clients.s3.put_object(Bucket=BUCKET, Key=key(uri), Body=data)

    def get(uri: str) -> bytes | None:
        try:
            return bytes(clients.s3.get_object(Bucket=BUCKET, Key=key(uri))["Body"].read())
        except clients.s3.exceptions.NoSuchKey:
            return None

    def instances(job: str, states: list[str]) -> list[str]:
        filters = [{"Name": "tag:ml-lifecycle.job", "Values": [job]}]
        if states:
            filters.append({"Name": "instance-state-name", "Values": states})
        pages = clients.ec2.describe_instances(Filters=filters)["Reservations"]
        return [i["InstanceId"] for r in pages for i in r["Instances"]]

    def lose(job: str, record: JobRecord | None) -> None:
        clients.ec2.terminate_instances(InstanceIds=instances(job, ["pending", "running"]))

    archive = linear_model_archive(tmp_path / "model" / "model.tar.gz", WEIGHTS, intercept=0.5)
    clients.s3.upload_file(archive.removeprefix("file://"), BUCKET, f"{prefix}/model/model.tar.gz")
    options = {**QUICK, "ec2_settings": {"instance_profile": INSTANCE_PROFILE}}
    backend = backend_for("ec2", "aws_default", options)
    return Place(
        name="ec2",
        backend=backend,
        image=image,
        channel=f"s3://{BUCKET}/{prefix}/train",
        root=f"s3://{BUCKET}/{prefix}",
        put=put,
        get=get,
        alive=lambda job: instances(job, ["pending", "running"]),
        created=lambda job: len(instances(job, [])),
        lose=lose,
        jam_cleanup=lambda job, kind: _security_group_jam(clients, backend, job),
        extras={"model_uri": f"s3://{BUCKET}/{prefix}/model/model.tar.gz"},
    )


@pytest.fixture(params=["local", "ec2"])
def place(request: pytest.FixtureRequest, tmp_path: Path, ml_home: Path, sample_data: Path) -> Place:
    """Each registered backend in turn, ready to run jobs (the EC2 one with its instances booted by the emulator).

    :param request: which backend.
    :param tmp_path: the test's folder.
    :param ml_home: a private ML_LIFECYCLE_HOME.
    :param sample_data: the sample data.
    """
    if request.param == "local":
        return _local_place(
            tmp_path, request.getfixturevalue("example_image"), sample_data, request.getfixturevalue("docker_client")
        )
    request.getfixturevalue("emulator")
    return _ec2_place(request.getfixturevalue("aws"), request.getfixturevalue("pushed_image"), sample_data, tmp_path)
