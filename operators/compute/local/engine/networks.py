"""The Docker engine's networks: private bridges with a fixed subnet, static host addresses, lookups and removal."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from ml_lifecycle.errors import EngineError


class EngineNetworks:
    """The network calls of DockerEngine (a mixin: it uses the engine's ``client``)."""

    client: Any

    def create_network(self, name: str, labels: Mapping[str, str], *, internal: bool = False) -> Any:
        """Create a private bridge network with a fixed subnet (replacing a leftover of the same name).

        The subnet is one the engine picks as free; fixing it lets containers get static addresses, so every
        host can list every other in /etc/hosts (Docker's DNS forgets a container as soon as it exits). The engine
        picks it for a probe network that is internal, so it has no NAT rules and goes faster (by a tenth of a second).

        :param name: the network name.
        :param labels: ownership labels.
        :param internal: give the network no route outside (hosts reach only each other).
        """
        import docker

        try:
            return self._create_network(name, labels, internal)
        except docker.errors.APIError as err:
            if err.status_code != 409:
                raise
        self.remove_network(name)  # a leftover holds the name: it goes (one call fewer when there is none)
        return self._create_network(name, labels, internal)

    def _create_network(self, name: str, labels: Mapping[str, str], internal: bool) -> Any:
        """Create the network of create_network; raises the engine's 409 when the name is taken.

        :param name: the network name.
        :param labels: ownership labels.
        :param internal: give the network no route outside.
        """
        from docker.types import IPAMConfig, IPAMPool

        probe = self.client.networks.create(name, driver="bridge", labels=dict(labels), internal=True)
        try:
            subnet = probe.attrs["IPAM"]["Config"][0]["Subnet"]
        finally:
            probe.remove()
        ipam = IPAMConfig(pool_configs=[IPAMPool(subnet=subnet)])
        return self.client.networks.create(
            name, driver="bridge", labels=dict(labels), check_duplicate=True, internal=internal, ipam=ipam
        )

    @staticmethod
    def host_addresses(network: Any, hosts: Sequence[str]) -> dict[str, str]:
        """Assign each host a static address in a network made by create_network (after the gateway).

        :param network: the network.
        :param hosts: the host names, in order.
        """
        import ipaddress

        subnet = ipaddress.ip_network(network.attrs["IPAM"]["Config"][0]["Subnet"])
        addresses = list(subnet.hosts())[1 : len(hosts) + 1]  # the first address is the gateway
        return {host: str(address) for host, address in zip(hosts, addresses, strict=True)}

    def bridge_gateway(self) -> str:
        """Return the address of the engine's machine on its default bridge (``host-gateway``), which containers on
        any bridge network reach it at."""
        try:
            config = self.client.networks.get("bridge").attrs["IPAM"]["Config"]
            return str(next(c["Gateway"] for c in config if c.get("Gateway")))
        except Exception as err:  # no default bridge (dockerd --bridge=none), or its address is not said
            raise EngineError(f"The Docker engine's default bridge has no gateway address: {err}") from err

    def ensure_named_network(self, name: str, labels: Mapping[str, str]) -> None:
        """Create a plain bridge network unless one of that name exists, and leave exactly one of that name.

        The engine allows two networks of one name (a killed task's create still in flight when its retry looked),
        and then starts no container on either ("ambiguous"): the one with containers attached is kept, else the
        oldest; the others go, their containers disconnected (no container could start on the name while they were
        two).

        :param name: the network name.
        :param labels: ownership labels.
        """
        import docker

        found = self.named_networks(name)
        if not found:
            # One engine call (the engine picks the subnet); the second look finds a twin created meanwhile.
            try:
                self.client.networks.create(name, driver="bridge", labels=dict(labels), check_duplicate=True)
            except docker.errors.APIError as err:
                if err.status_code != 409:  # 409: another process created it since the first look
                    raise
            found = self.named_networks(name)
        if len(found) > 1:
            # Containers attached, running or not (the network's own inspect lists only running ones).
            users = {n.id: self.client.containers.list(all=True, filters={"network": n.id}) for n in found}
            _, *twins = sorted(found, key=lambda n: (not users[n.id], _created_key(n), n.id))
            for twin in twins:
                _remove_twin(twin, users[twin.id])

    def named_networks(self, name: str) -> list[Any]:
        """Return the networks of exactly this name (the engine's name filter also matches part of a name).

        :param name: the network name.
        """
        return [n for n in self.client.networks.list(names=[name]) if n.name == name]

    def remove_network(self, name: str) -> None:
        """Remove the networks of exactly this name, if any.

        :param name: the network name.
        """
        for network in self.named_networks(name):
            network.remove()

    def networks(self, labels: Mapping[str, str]) -> list[Any]:
        """Find networks carrying every given label.

        :param labels: label -> value.
        """
        return self.client.networks.list(filters={"label": [f"{k}={v}" for k, v in labels.items()]})

    def network_address(self, container: Any, network: str, *, refresh: bool = True) -> str:
        """Return a container's IP address on a network.

        :param container: a running container.
        :param network: the network name.
        :param refresh: ask the engine; False reads what the container object last saw (after a start or reload).
        """
        if refresh:
            container.reload()
        address = ((container.attrs["NetworkSettings"].get("Networks") or {}).get(network) or {}).get("IPAddress")
        if not address:
            raise EngineError(f"Container {container.name} has no address on network {network}; is it running?")
        return str(address)


def _remove_twin(network: Any, attached: Sequence[Any]) -> None:
    """Remove a second network of a name, disconnecting the containers attached to it.

    :param network: the network.
    :param attached: its containers.
    """
    import docker

    for container in attached:
        with contextlib.suppress(docker.errors.NotFound):  # the container went meanwhile
            network.disconnect(container.id, force=True)
    with contextlib.suppress(docker.errors.NotFound):  # another process removed it first
        network.remove()


def _created_key(network: Any) -> str:
    """Return a network's creation time as text that sorts in time order (the engine drops trailing zeros of the
    fraction of a second, which text order would misplace).

    :param network: the network.
    """
    stamp = str(network.attrs.get("Created", ""))
    head, _, rest = stamp.partition(".")
    digits = "".join(itertools.takewhile(str.isdigit, rest))
    return head + digits.ljust(9, "0") + rest[len(digits) :]
