"""A second, throwaway Docker engine whose "nvidia" device driver is registered, for GPU tests on a machine without
GPUs. dockerd registers that driver only when nvidia-container-runtime-hook is on its PATH; the stub in gpu_stub/
stands in for it (see its docstring). Everything else is the real engine: device requests, the hook run at each
start, networks and published ports on a bridge of its own."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STUB_HOOK = Path(__file__).parent / "gpu_stub" / "nvidia-container-runtime-hook"
START_TIMEOUT_S = 60


@dataclass(frozen=True)
class GpuEngine:
    """A running test engine.

    :param docker_host: its DOCKER_HOST.
    :param gpus: how many GPUs its machine pretends to have.
    :param client: a docker SDK client of it.
    """

    docker_host: str
    gpus: int
    client: Any


def why_no_gpu_engine() -> str | None:
    """Return why a stub GPU engine cannot be started here, or None when it can."""
    if os.geteuid() != 0:
        return "starting a second dockerd and its bridge needs root"
    for tool in ("dockerd", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


@contextmanager
def stub_gpu_engine(gpus: int, images: Sequence[str], source: Any) -> Iterator[GpuEngine]:
    """Start a dockerd whose machine has ``gpus`` stub GPUs, load images into it from source, stop it after.

    :param gpus: how many GPUs the stub hook reports.
    :param images: image references copied from the source engine (docker save | load).
    :param source: a docker SDK client of the engine the images are on.
    """
    tag = uuid.uuid4().hex[:6]
    root = Path(f"/tmp/mlc-gpu-{tag}")  # short: a unix socket path has at most 107 characters
    bridge = f"mlcgpu{tag}"
    (root / "bin").mkdir(parents=True)
    shutil.copy(STUB_HOOK, root / "bin" / STUB_HOOK.name)
    (root / "bin" / "gpus").write_text(str(gpus))
    subnet = f"10.{200 + int(tag[:2], 16) % 50}.{int(tag[2:4], 16)}"
    _ip("link", "add", "name", bridge, "type", "bridge")
    process = None
    try:
        _ip("addr", "add", f"{subnet}.1/24", "dev", bridge)
        _ip("link", "set", bridge, "up")
        docker_host = f"unix://{root}/docker.sock"
        log = (root / "dockerd.log").open("w")
        process = subprocess.Popen(
            [
                "dockerd",
                f"--data-root={root}/data",
                f"--exec-root={root}/exec",
                f"--pidfile={root}/dockerd.pid",
                f"--host={docker_host}",
                f"--bridge={bridge}",
                "--iptables=false",
                "--ip6tables=false",
                "--ip-masq=false",
                f"--default-address-pool=base=10.{250 + int(tag[4:], 16) % 5}.0.0/16,size=24",
            ],
            env={**os.environ, "PATH": f"{root / 'bin'}:{os.environ.get('PATH', '')}"},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        client = _wait_for(docker_host, process, root)
        for image in images:
            client.images.load(source.api.get_image(image))  # by name: the tag travels with it
        yield GpuEngine(docker_host, gpus, client)
    finally:
        if process is not None:
            process.send_signal(signal.SIGTERM)  # dockerd stops its containers and unmounts their layers
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        _ip("link", "delete", bridge, check=False)
        _unmount_under(root)
        shutil.rmtree(root, ignore_errors=True)


def _unmount_under(root: Path) -> None:
    """Unmount what dockerd left mounted under its folders (its network namespace, its data root), deepest first.

    :param root: the test engine's folder.
    """
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m.startswith(f"{root}/")), key=len, reverse=True):
        subprocess.run(["umount", "--lazy", mount], check=False, capture_output=True)


def _wait_for(docker_host: str, process: subprocess.Popen[bytes], root: Path) -> Any:
    """Return a client of the new engine once it answers; fail with its log when it does not.

    :param docker_host: its DOCKER_HOST.
    :param process: its dockerd.
    :param root: its folder (the log is there).
    """
    import docker

    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and process.poll() is None:
        try:
            client = docker.DockerClient(base_url=docker_host, timeout=300)
            client.ping()
            return client
        except docker.errors.DockerException:
            time.sleep(0.2)
    raise RuntimeError(f"The stub GPU engine did not start: {(root / 'dockerd.log').read_text()[-2000:]}")


def _ip(*args: str, check: bool = True) -> None:
    """Run ``ip`` (the test engine's bridge).

    :param args: its arguments.
    :param check: fail when it fails.
    """
    subprocess.run(["ip", *args], check=check, capture_output=True)
