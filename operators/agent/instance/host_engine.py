"""The Docker engine of an instance: ECR images pulled with a login, containers on the instance's own network."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ml_lifecycle.agent.instance.image_pull import EcrClientFor, pull_from_ecr
from ml_lifecycle.compute.docker_engine import DockerEngine, ImageInfo
from ml_lifecycle.core.contract import Mount
from ml_lifecycle.errors import EngineError, ImageNotFound

HOST_NETWORK = "host"


class HostNetworkEngine(DockerEngine):
    """A DockerEngine whose run() also takes ``network="host"``: no private network, the instance's addresses.

    DockerEngine.run joins user-defined networks with the hostname as an alias, which the engine refuses for the
    host network; Docker (20.10 and later) does accept a hostname and /etc/hosts entries there.

    :param ecr_client_for: region -> a factory of boto3 ECR clients, for images in Amazon ECR; None pulls every
        image anonymously.
    """

    def __init__(self, ecr_client_for: EcrClientFor | None = None) -> None:
        super().__init__()
        self.ecr_client_for = ecr_client_for

    def ensure_image(self, ref: str) -> ImageInfo:
        """Return the image, pulling it when missing (from ECR with a login token).

        :param ref: an image reference (tag or digest).
        """
        if self.ecr_client_for is not None:
            pull_from_ecr(self, ref, self.ecr_client_for)
        return super().ensure_image(ref)

    def run(self, *, network: str | None = None, **kwargs: Any) -> Any:
        """Start a container as DockerEngine.run does; with network="host" on the host's network.

        :param network: a user-defined network, ``host``, or None.
        :param kwargs: DockerEngine.run's other arguments.
        """
        if network != HOST_NETWORK:
            return super().run(network=network, **kwargs)
        return self._run_on_host_network(**kwargs)

    def _run_on_host_network(
        self,
        *,
        name: str,
        image: str,
        command: Sequence[str] | None,
        entrypoint: Sequence[str] | None = None,
        environment: Mapping[str, str] | None = None,
        mounts: Sequence[Mount] = (),
        labels: Mapping[str, str] | None = None,
        hostname: str | None = None,
        memory_bytes: int | None = None,
        cpus: float | None = None,
        extra_hosts: Mapping[str, str] | None = None,
        **ignored: Any,
    ) -> Any:
        """Create and start a detached container on the host network (a leftover of the same name is replaced).

        :param name: the container name.
        :param image: the image reference or id.
        :param command: the command.
        :param entrypoint: an entrypoint override, or None.
        :param environment: environment variables.
        :param mounts: bind mounts.
        :param labels: ownership labels.
        :param hostname: the container's host name.
        :param memory_bytes: a memory limit, or None.
        :param cpus: a CPU limit, or None.
        :param extra_hosts: host name -> address entries for /etc/hosts.
        :param ignored: arguments that mean nothing on the host network (address, network_disabled, ports).
        """
        import docker
        from docker.types import Mount as SdkMount

        self.remove_by_name(name)
        kwargs: dict[str, Any] = {
            "name": name,
            "command": list(command) if command is not None else None,
            "environment": dict(environment or {}),
            "mounts": [SdkMount(m.target, m.source, type="bind", read_only=m.read_only) for m in mounts],
            "labels": dict(labels or {}),
            "hostname": hostname,
            "network_mode": HOST_NETWORK,
            "extra_hosts": dict(extra_hosts or {}),
            "detach": True,
        }
        if entrypoint is not None:
            kwargs["entrypoint"] = list(entrypoint)
        if memory_bytes:
            kwargs["mem_limit"] = kwargs["memswap_limit"] = memory_bytes
        if cpus:
            kwargs["nano_cpus"] = int(cpus * 1e9)
        try:
            return self.client.containers.run(image, **kwargs)
        except docker.errors.ImageNotFound as err:
            raise ImageNotFound(f"The image {image} is not on the Docker engine: {err.explanation}") from err
        except docker.errors.APIError as err:
            self.remove_by_name(name)
            raise EngineError(
                f"The Docker engine could not start {name} on the host network: {err.explanation}"
            ) from err
