"""The GPUs of the Docker engine's machine, as a container given all of them sees them; and device requests."""

from __future__ import annotations

import contextlib
import logging
import uuid
from typing import Any

from ml_lifecycle.core.gpus import GpuRequest
from ml_lifecycle.errors import EngineError, GpuUnavailable

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 120
# What the probe asks for: every GPU, with the driver's utilities (nvidia-smi) put into the container.
PROBE_CAPABILITIES = ["gpu", "utility"]
NO_GPU_RUNTIME_FIX = (
    "Install the NVIDIA driver and the NVIDIA Container Toolkit on the engine's machine "
    "(https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/install-guide.html), run "
    "`nvidia-ctk runtime configure --runtime=docker` and restart dockerd; or choose an instance type without GPUs, "
    "or pass gpus=0 to run this GPU configuration on the CPU for debugging"
)


def device_requests(request: GpuRequest) -> list[Any]:
    """Return the docker SDK device requests for a container's GPUs (what ``docker run --gpus`` sends).

    :param request: the GPUs it asks for.
    """
    from docker.types import DeviceRequest

    if not request.wanted:
        return []
    if request.device_ids:
        return [DeviceRequest(device_ids=list(request.device_ids), capabilities=[["gpu"]])]
    return [DeviceRequest(count=request.count, capabilities=[["gpu"]])]


class EngineGpus:
    """The GPU probe of DockerEngine (a mixin: it uses the engine's ``client``)."""

    client: Any

    def gpu_ids(self, image: str) -> dict[str, str]:
        """Return the GPUs the engine gives a container (index -> UUID), asking a short-lived one from image.

        The probe runs ``nvidia-smi`` (the NVIDIA Container Toolkit puts it into every container given GPUs with the
        ``utility`` capability), so what it lists is what a job's container will see.

        :param image: an image the engine has (the job's own: nothing is pulled).
        """
        import docker
        from docker.types import DeviceRequest

        name = f"ml-lifecycle-gpu-probe-{uuid.uuid4().hex[:12]}"
        try:
            container = self.client.containers.create(
                image,
                name=name,
                entrypoint=["nvidia-smi"],
                command=["--query-gpu=index,uuid", "--format=csv,noheader"],
                device_requests=[DeviceRequest(count=-1, capabilities=[PROBE_CAPABILITIES])],
                labels={"ml-lifecycle/probe": "gpu"},
                network_disabled=True,
            )
        except docker.errors.APIError as err:
            raise EngineError(f"The Docker engine could not create the GPU probe from {image}: {err}") from err
        try:
            try:
                container.start()
            except docker.errors.APIError as err:
                raise _start_failure(str(err.explanation or err)) from err
            try:
                exit_code = int(container.wait(timeout=PROBE_TIMEOUT_S).get("StatusCode", -1))
            except Exception as err:  # requests' ReadTimeout, or the engine went away
                raise EngineError(
                    f"The GPU probe (nvidia-smi) did not end within {PROBE_TIMEOUT_S} s ({type(err).__name__}): the "
                    "driver may be hung; check `nvidia-smi` on the engine's machine"
                ) from err
            output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
        finally:
            with contextlib.suppress(docker.errors.APIError):
                container.remove(force=True)
        if exit_code != 0:
            raise GpuUnavailable(
                f"nvidia-smi in a container given every GPU exited {exit_code}: {output.strip()[:500]}. The driver "
                f"or the NVIDIA Container Toolkit is not working on the engine's machine. {NO_GPU_RUNTIME_FIX}"
            )
        gpus = dict(
            (index.strip(), gpu_uuid.strip())
            for line in output.splitlines()
            for index, _, gpu_uuid in [line.partition(",")]
            if index.strip()
        )
        log.info("The Docker engine's machine has %d GPU(s): %s", len(gpus), ", ".join(gpus.values()))
        return gpus


def _start_failure(text: str) -> Exception:
    """Say why the GPU probe could not start: no GPU runtime (final), or the engine's own trouble (worth a retry).

    :param text: the engine's explanation.
    """
    if "could not select device driver" in text:
        return GpuUnavailable(f"This Docker engine has no GPU runtime ({text}). {NO_GPU_RUNTIME_FIX}")
    if "nvidia-smi" in text:
        return GpuUnavailable(
            f"This Docker engine gives containers GPUs but not the driver's nvidia-smi ({text}): the NVIDIA "
            f"Container Toolkit is incomplete. {NO_GPU_RUNTIME_FIX}"
        )
    if "nvidia" in text.lower():  # nvidia-container-cli: driver not loaded, no devices, ...
        return GpuUnavailable(
            f"The NVIDIA Container Toolkit could not give the probe GPUs ({text}). {NO_GPU_RUNTIME_FIX}"
        )
    return EngineError(f"The Docker engine could not start the GPU probe: {text}")
