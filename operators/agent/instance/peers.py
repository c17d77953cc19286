"""Find the instances of a job and their private addresses: host ``algo-<launch index + 1>`` -> IP."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ml_lifecycle.core import labels
from ml_lifecycle.errors import MlLifecycleError

log = logging.getLogger(__name__)

PEERS_TIMEOUT_S = 600.0
POLL_INTERVAL_S = 5.0


class PeersNotFound(MlLifecycleError):
    """Not every instance of a job came up in time."""


@dataclass(frozen=True)
class Peer:
    """One instance of a job.

    :param host: its host name, ``algo-<launch index + 1>``.
    :param instance_id: the EC2 instance id.
    :param private_ip: its private IPv4 address.
    """

    host: str
    instance_id: str
    private_ip: str


def job_instances(ec2: Any, job_name: str) -> dict[str, Peer]:
    """Return host -> the newest pending or running instance of the job that has a private address.

    :param ec2: a boto3 EC2 client.
    :param job_name: the job's name (the ``ml-lifecycle.job`` tag).
    """
    filters = [
        {"Name": f"tag:{labels.JOB}", "Values": [job_name]},
        {"Name": "instance-state-name", "Values": ["pending", "running"]},
    ]
    found: dict[str, tuple[Any, Peer]] = {}
    for page in ec2.get_paginator("describe_instances").paginate(Filters=filters):
        for reservation in page.get("Reservations", []):
            for instance in reservation.get("Instances", []):
                address = instance.get("PrivateIpAddress")
                if not address:
                    continue
                host = f"algo-{int(instance.get('AmiLaunchIndex', 0)) + 1}"
                launched = instance.get("LaunchTime")
                # A relaunched host replaces an interrupted one that may not have gone yet: the newest wins.
                if host not in found or (launched and found[host][0] and launched > found[host][0]):
                    found[host] = (launched, Peer(host, instance["InstanceId"], address))
    return {host: peer for host, (_, peer) in found.items()}


def wait_for_peers(
    ec2: Any,
    job_name: str,
    hosts: list[str],
    timeout_s: float = PEERS_TIMEOUT_S,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Peer]:
    """Wait until every host of the job has an instance with a private address; return host -> Peer.

    :param ec2: a boto3 EC2 client.
    :param job_name: the job's name.
    :param hosts: every host of the job (algo-1..N).
    :param timeout_s: how long to wait, in seconds.
    :param sleep: waits between polls (seconds).
    """
    deadline_s = time.monotonic() + timeout_s
    while True:
        found = job_instances(ec2, job_name)
        missing = [host for host in hosts if host not in found]
        if not missing:
            return {host: found[host] for host in hosts}
        if time.monotonic() >= deadline_s:
            raise PeersNotFound(
                f"After {timeout_s:.0f} s only {len(hosts) - len(missing)} of {len(hosts)} instances of job {job_name} "
                f"are pending or running with a private address (missing: {', '.join(missing)}). Check in the EC2 "
                "console for instances that failed to launch or were terminated, then retry the task"
            )
        log.info("Waiting for the instances of %s: %s not up yet", job_name, ", ".join(missing))
        sleep(POLL_INTERVAL_S)
