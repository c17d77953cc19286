"""What each container of a job gets on this engine: its instance type's GPUs (distinct per host when there are
enough), memory, CPUs, /dev/shm and limits. Training, transforms and endpoints, here and on an EC2 instance."""

from __future__ import annotations

from ml_lifecycle.compute.base import LogSink
from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine
from ml_lifecycle.core.container_resources import ContainerResources, resources_for
from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.gpus import GpuRequest, assign_gpus, gpu_request, gpus_of


def plan_gpus(
    engine: DockerEngine, image: str, instance_type: str, gpus: str | None, hosts: int, sink: LogSink
) -> list[GpuRequest]:
    """Return the GPUs of each host here, after checking the engine can give them; a CPU run of a GPU type is logged.

    :param engine: the Docker engine.
    :param image: the job's image id (the probe runs from it: nothing is pulled).
    :param instance_type: the instance type.
    :param gpus: the ``gpus=`` override in canonical form, or None for the type's.
    :param hosts: how many of the job's hosts (containers) run on this engine.
    :param sink: the task log.
    """
    request = gpu_request(instance_type, gpus)
    if not request.wanted:
        if gpus is not None and _has_gpus(instance_type):
            sink(
                f"WARNING: {instance_type} has GPUs but gpus=0: the containers run on the CPU, for debugging; speed, "
                "memory use and SM_NUM_GPUS are not those of the instance type"
            )
        return [request] * hosts
    machine = engine.gpu_ids(image)
    by_uuid = {gpu_uuid: index for index, gpu_uuid in machine.items()}
    if request.device_ids:  # UUIDs name the same GPUs as indexes; indexes are what the assignment compares
        request = GpuRequest(device_ids=tuple(by_uuid.get(d, d) for d in request.device_ids))
    assignment = assign_gpus(request, hosts, list(machine))
    described = "; ".join(f"host {h + 1}: GPU {','.join(r.device_ids)}" for h, r in enumerate(assignment.per_host))
    sink(f"GPUs of {instance_type} from the engine's {len(machine)}: {described}")
    if assignment.shared:
        sink(
            f"The {hosts} host(s) share GPUs (the same device ids, or fewer GPUs on the engine's machine than they "
            f"need together: {len(machine)}); on SageMaker each host has its own"
        )
    return assignment.per_host


def _has_gpus(instance_type: str) -> bool:
    """Say whether an instance type has GPUs (a size of a GPU family this version does not know counts as one).

    :param instance_type: the instance type.
    """
    try:
        return gpus_of(instance_type) > 0
    except SpecError:
        return True


def container_resources(
    engine: DockerEngine,
    instance_type: str,
    gpus: list[GpuRequest],
    shm_size_bytes: int | None,
    *,
    limit_to_instance: bool,
) -> list[ContainerResources]:
    """Return what each container of the instance type gets on this engine's machine, one per plan_gpus entry.

    :param engine: the Docker engine (its machine's size is asked once).
    :param instance_type: the instance type.
    :param gpus: each container's GPUs, from plan_gpus.
    :param shm_size_bytes: the /dev/shm size, or None for half the instance's memory.
    :param limit_to_instance: cap memory and CPUs at the type's (False on an instance of that type, or where the
        caller shares the machine with its containers).
    """
    memory_bytes, cpus = engine.machine()
    return [
        resources_for(
            instance_type,
            gpus=host_gpus,
            shm_bytes=shm_size_bytes,
            limit_to_instance=limit_to_instance,
            machine_memory_bytes=memory_bytes,
            machine_cpus=cpus,
        )
        for host_gpus in gpus
    ]
