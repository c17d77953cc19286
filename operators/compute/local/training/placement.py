"""Which hosts of a training job run on this engine, and how their containers reach each other."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class HostPlacement:
    """Where a job's hosts run: by default all of them here, on a private network (local compute).

    :param hosts_here: the hosts whose containers run on this engine; empty means every host of the job.
    :param host_network: run the containers on the engine host's network (an EC2 instance) instead of a private one.
    :param peer_addresses: host name -> address for /etc/hosts, for hosts that run elsewhere (with host_network).
    :param limit_resources: cap each container at its instance type's memory and CPUs (off on a real instance,
        which is that size already).
    """

    hosts_here: tuple[str, ...] = ()
    host_network: bool = False
    peer_addresses: Mapping[str, str] = field(default_factory=dict)
    limit_resources: bool = True

    def local_hosts(self, hosts: Sequence[str]) -> list[str]:
        """Return the job's hosts that run here, in host order.

        :param hosts: every host of the job.
        """
        if not self.hosts_here:
            return list(hosts)
        unknown = sorted(set(self.hosts_here) - set(hosts))
        if unknown:
            raise ValueError(f"Hosts {unknown} are not hosts of this job ({', '.join(hosts)})")
        return [host for host in hosts if host in self.hosts_here]
