"""The local Docker engine, reached through the docker SDK (DOCKER_HOST works); SDK errors translated here."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ml_lifecycle.compute.local.engine.gpus import EngineGpus
from ml_lifecycle.compute.local.engine.images import ENGINE_HINT, EngineImages, ImageInfo
from ml_lifecycle.compute.local.engine.networks import EngineNetworks
from ml_lifecycle.compute.local.engine.resources import EngineResources
from ml_lifecycle.compute.local.engine.restarts import EngineRestarts
from ml_lifecycle.compute.local.engine.start_failures import explain_start_failure
from ml_lifecycle.core.container_resources import ContainerResources
from ml_lifecycle.core.contract import Mount
from ml_lifecycle.errors import EngineError, ImageNotFound

log = logging.getLogger(__name__)

__all__ = ["HOST_NETWORK", "DockerEngine", "ImageInfo"]

HOST_NETWORK = "host"
LIST_ATTEMPTS = 10


class DockerEngine(EngineImages, EngineNetworks, EngineGpus, EngineResources, EngineRestarts):
    """A thin adapter over the docker SDK: images, containers, networks; nothing job-specific."""

    def __init__(self, client: Any | None = None) -> None:
        """Use the given SDK client, or connect from the environment on first use.

        :param client: a ``docker.DockerClient``; None connects with ``docker.from_env()``.
        """
        self._client = client
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        """The docker SDK client, connected on first use."""
        with self._lock:
            if self._client is None:
                import docker

                try:
                    self._client = docker.from_env(timeout=300)
                    self._client.ping()
                except docker.errors.DockerException as err:
                    raise EngineError(f"Cannot reach the Docker engine ({err}). {ENGINE_HINT}") from err
            return self._client

    def run(
        self,
        *,
        name: str,
        image: str,
        command: Sequence[str] | None,
        entrypoint: Sequence[str] | None = None,
        environment: Mapping[str, str] | None = None,
        mounts: Sequence[Mount] = (),
        labels: Mapping[str, str] | None = None,
        network: str | None = None,
        hostname: str | None = None,
        publish_port: int | None = None,
        resources: ContainerResources | None = None,
        network_disabled: bool = False,
        address: str | None = None,
        extra_hosts: Mapping[str, str] | None = None,
    ) -> Any:
        """Create and start a detached container; a container of the same name left over is replaced.

        :param name: the container name.
        :param image: the image reference or id.
        :param command: the command (e.g. ``["train"]``).
        :param entrypoint: an entrypoint override, or None for the image's.
        :param environment: environment variables.
        :param mounts: bind mounts.
        :param labels: ownership labels.
        :param network: a user-defined network to join (the hostname becomes an alias there), or ``host`` for the
            host's own network (an EC2 instance's: peers reach each other by the instances' addresses).
        :param hostname: the container's host name.
        :param publish_port: a container port published on 127.0.0.1 at a free host port.
        :param resources: memory, CPUs, GPUs, /dev/shm and limits; None leaves the engine's defaults.
        :param network_disabled: run with no network at all (``--network none``).
        :param address: a static address in the network, or None.
        :param extra_hosts: host name -> address entries for /etc/hosts.
        """
        import docker
        from docker.types import Mount as SdkMount

        kwargs: dict[str, Any] = {
            "name": name,
            "command": list(command) if command is not None else None,
            "environment": dict(environment or {}),
            "mounts": [SdkMount(m.target, m.source, type="bind", read_only=m.read_only) for m in mounts],
            "labels": dict(labels or {}),
            "hostname": hostname,
            "detach": True,
        }
        if entrypoint is not None:
            kwargs["entrypoint"] = list(entrypoint)
        if network == HOST_NETWORK:
            kwargs["network_mode"] = HOST_NETWORK  # the engine refuses aliases there; hostname and extra_hosts work
        elif network:
            kwargs["network"] = network
            kwargs["networking_config"] = {
                network: self.client.api.create_endpoint_config(
                    aliases=[hostname] if hostname else None, ipv4_address=address
                )
            }
        if extra_hosts:
            kwargs["extra_hosts"] = dict(extra_hosts)
        if publish_port:
            kwargs["ports"] = {f"{publish_port}/tcp": ("127.0.0.1", None)}
        kwargs.update(self.host_resources(resources))
        if network_disabled:
            kwargs["network_mode"] = "none"
        for attempt in range(3):
            try:
                return self.client.containers.run(image, **kwargs)
            except docker.errors.ImageNotFound as err:
                raise ImageNotFound(f"The image {image} is not on the Docker engine: {err.explanation}") from err
            except docker.errors.APIError as err:
                text = str(err.explanation or err)
                # The container may exist (created, not started): it goes, so nothing is left behind.
                self.remove_by_name(name)
                if attempt == 0 and err.status_code == 409 and "already in use" in text:
                    continue  # a leftover held the name (one call fewer when there is none)
                if "ulimits" in kwargs and self.limits_refused(text):
                    kwargs.update(self.host_resources(resources))
                    kwargs.pop("ulimits", None)
                    continue
                raise EngineError(explain_start_failure(image, command, entrypoint, text)) from err
        raise AssertionError("unreachable: the last attempt returns or raises")

    def published_port(self, container: Any, container_port: int) -> int:
        """Return the host port a container port was published on.

        :param container: a running container.
        :param container_port: the port inside the container.
        """
        container.reload()
        bindings = (container.attrs["NetworkSettings"]["Ports"] or {}).get(f"{container_port}/tcp") or []
        if not bindings:
            raise EngineError(f"Container {container.name} has no published port for {container_port}")
        return int(bindings[0]["HostPort"])

    def follow_logs(self, container: Any) -> Iterator[str]:
        """Yield a container's output (stdout and stderr) line by line until it exits.

        :param container: a started container.
        """
        pending = b""
        for chunk in container.logs(stream=True, follow=True, stdout=True, stderr=True):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield line.decode("utf-8", "replace").rstrip("\r")
        if pending:
            yield pending.decode("utf-8", "replace")

    def log_tail(self, container: Any, lines: int = 30) -> str:
        """Return the last lines of a container's output.

        :param container: a container.
        :param lines: how many lines.
        """
        try:
            return container.logs(tail=lines, stdout=True, stderr=True).decode("utf-8", "replace").rstrip()
        except Exception:
            return ""

    def wait(self, container: Any, timeout_s: float | None = None) -> int:
        """Wait for a container to exit and return its exit code.

        :param container: a started container.
        :param timeout_s: the most seconds to wait; None waits for ever.
        """
        result = container.wait(timeout=timeout_s) if timeout_s else container.wait()
        return int(result.get("StatusCode", -1))

    def stop(self, container: Any, grace_s: int) -> None:
        """Send SIGTERM, then SIGKILL after grace_s seconds; a container already gone is fine.

        :param container: the container.
        :param grace_s: seconds between SIGTERM and SIGKILL.
        """
        import docker

        with contextlib.suppress(docker.errors.NotFound):
            container.stop(timeout=grace_s)

    def remove(self, container: Any) -> None:
        """Remove a container (stopping it first), and its anonymous volumes; a container already gone is fine.

        :param container: the container.
        """
        import docker

        try:
            container.remove(force=True, v=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as err:
            if "removal of container" not in str(err) or "already in progress" not in str(err):
                raise EngineError(f"Could not remove container {container.name}: {err.explanation}") from err

    def remove_by_name(self, name: str) -> None:
        """Remove a container by name if it exists.

        :param name: the container name.
        """
        import docker

        with contextlib.suppress(docker.errors.NotFound):
            self.remove(self.client.containers.get(name))

    def containers(self, labels: Mapping[str, str], *, running_only: bool = False) -> list[Any]:
        """Find containers carrying every given label.

        :param labels: label -> value.
        :param running_only: only running containers.
        """
        import docker

        filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
        for _ in range(LIST_ATTEMPTS - 1):
            try:
                return self.client.containers.list(all=not running_only, filters=filters)
            except docker.errors.NotFound:
                continue  # a container went away between the listing and its inspection: list again
        return self.client.containers.list(all=not running_only, filters=filters)

    @staticmethod
    def oom_killed(container: Any) -> bool:
        """Say whether the kernel's out-of-memory killer ended the container.

        :param container: an exited container, not yet removed.
        """
        try:
            container.reload()
        except Exception:  # gone already: nothing more is known
            return False
        return bool(container.attrs.get("State", {}).get("OOMKilled"))

    def run_service(
        self,
        *,
        name: str,
        image: str,
        labels: Mapping[str, str],
        network: str,
        container_port: int | None,
        host_port: int | None = None,
        mounts: Sequence[Mount] = (),
        command: Sequence[str] | None = None,
        environment: Mapping[str, str] | None = None,
        hostname: str | None = None,
        replace: bool = True,
        user: str | None = None,
        no_capabilities: bool = False,
        resources: ContainerResources | None = None,
    ) -> Any:
        """Start a long-lived container on a network, one port published on 127.0.0.1; three engine calls in all.

        The returned container's attrs are read after the start: its published port and network address are in them.

        :param name: the container name.
        :param image: the image reference or id.
        :param labels: ownership labels.
        :param network: the user-defined network to join (the hostname becomes an alias there), or ``host``.
        :param container_port: the port inside the container to publish; None publishes none (e.g. on ``host``).
        :param host_port: the host port to publish it on; None takes a free one.
        :param mounts: bind mounts.
        :param command: the command, or None for the image's.
        :param environment: environment variables.
        :param hostname: the container's host name.
        :param replace: remove a leftover container of the same name first (skip it for names never used before).
        :param user: the user to run as, or None for the image's.
        :param no_capabilities: drop every Linux capability and forbid gaining privileges (setuid binaries).
        :param resources: memory, CPUs, GPUs, /dev/shm and limits; None leaves the engine's defaults.
        """
        import docker

        if replace:
            self.remove_by_name(name)
        api = self.client.api
        # The engine refuses aliases on the host network.
        endpoint = api.create_endpoint_config(aliases=[hostname] if hostname and network != HOST_NETWORK else None)
        retried = False
        while True:  # a second time only when the engine refused the containers' limits
            host_config = api.create_host_config(
                port_bindings={container_port: ("127.0.0.1", host_port)} if container_port is not None else None,
                mounts=[docker.types.Mount(m.target, m.source, type="bind", read_only=m.read_only) for m in mounts],
                network_mode=network,
                cap_drop=["ALL"] if no_capabilities else None,
                security_opt=["no-new-privileges"] if no_capabilities else None,
                **self.host_resources(resources),
            )
            try:
                created = api.create_container(
                    image,
                    command=list(command) if command is not None else None,
                    name=name,
                    hostname=hostname,
                    environment=dict(environment or {}),
                    labels=dict(labels),
                    ports=[container_port] if container_port is not None else None,
                    host_config=host_config,
                    networking_config=api.create_networking_config({network: endpoint}),
                    user=user,
                )
            except docker.errors.ImageNotFound as err:
                raise ImageNotFound(f"The image {image} is not on the Docker engine: {err.explanation}") from err
            except docker.errors.APIError as err:
                raise EngineError(f"The Docker engine could not create container {name}: {err.explanation}") from err
            try:
                api.start(created["Id"])
                break
            except docker.errors.APIError as err:
                with contextlib.suppress(docker.errors.APIError):
                    api.remove_container(created["Id"], force=True, v=True)
                text = err.explanation or str(err)
                if resources is not None and not retried and self.limits_refused(text):
                    retried = True
                    continue
                if "address already in use" in text or "port is already allocated" in text:
                    raise EngineError(
                        f"The Docker engine could not start container {name}: {text}. Another program holds "
                        f"127.0.0.1:{host_port}: stop it, or delete the endpoint to get a new port"
                    ) from err
                raise EngineError(explain_start_failure(image, command, None, text)) from err
        return self.client.containers.get(created["Id"])

    def exec(self, container: Any, command: Sequence[str]) -> tuple[int, str]:
        """Run a command in a running container and return its exit code and output (stdout and stderr).

        :param container: a running container.
        :param command: the command and its arguments.
        """
        import docker

        try:
            code, output = container.exec_run(list(command), stdout=True, stderr=True)
        except docker.errors.APIError as err:
            raise EngineError(f"Could not run {command[0]} in {container.name}: {err.explanation}") from err
        return int(code), (output or b"").decode("utf-8", "replace")

    def signal(self, container: Any, signal_name: str) -> None:
        """Send a signal to a running container's main process.

        :param container: a running container.
        :param signal_name: e.g. ``SIGHUP``.
        """
        import docker

        try:
            container.kill(signal=signal_name)
        except docker.errors.APIError as err:
            raise EngineError(f"Could not send {signal_name} to {container.name}: {err.explanation}") from err

    def processes(self, container: Any) -> list[tuple[int, str]]:
        """List a running container's processes as (host pid, command line), without running anything in it.

        :param container: a running container.
        """
        import docker

        try:
            table = container.top(ps_args="-o pid,args")
        except docker.errors.APIError as err:
            raise EngineError(f"Could not list the processes of {container.name}: {err.explanation}") from err
        return [(int(row[0]), row[1]) for row in table.get("Processes") or []]
