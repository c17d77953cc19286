"""One host's share of a batch transform: its objects through its serving container, one after another."""

from __future__ import annotations

import logging
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine
from ml_lifecycle.compute.local.serving.containers import ServingContainer
from ml_lifecycle.compute.local.serving.http_client import InvocationError
from ml_lifecycle.compute.local.transform.object_transform import ObjectSides, stream_object, transform_records
from ml_lifecycle.compute.local.transform.progress import TransformProgress
from ml_lifecycle.core.execution_parameters import ExecutionParameters
from ml_lifecycle.core.record_plan import RecordPlan
from ml_lifecycle.core.specs import TransformSpec
from ml_lifecycle.core.uris import parse_uri
from ml_lifecycle.errors import MlLifecycleError
from ml_lifecycle.stores import StoreFor
from ml_lifecycle.stores.base import ObjectInfo

log = logging.getLogger(__name__)

STOPPED_OBJECT = "not transformed: the transform was stopped"


@dataclass
class HostShare:
    """Transforms one host's objects through its container; what fails is noted by key, the others go on.

    :param spec: the transform spec.
    :param params: the settled execution parameters.
    :param plan: how records are split, sent and written.
    :param server: this host's serving container.
    :param store_for: returns the store for a URI.
    :param engine: the Docker engine (to say why a container stopped answering).
    :param progress: the transform's counters, shared by every host.
    :param stopped: set when the transform is stopped: no further object starts.
    :param failures: failed key -> reason, shared by every host.
    :param lock: guards failures.
    """

    spec: TransformSpec
    params: ExecutionParameters
    plan: RecordPlan
    server: ServingContainer
    store_for: StoreFor
    engine: DockerEngine
    progress: TransformProgress
    stopped: threading.Event
    failures: dict[str, str]
    lock: threading.Lock

    def run(self, objects: list[ObjectInfo]) -> None:
        """Transform this host's objects, one after another, each with bounded concurrency; note what fails.

        :param objects: this host's objects.
        """
        spec, server = self.spec, self.server
        headers = {"Content-Type": spec.content_type or "application/octet-stream"}
        if spec.accept:
            headers["Accept"] = spec.accept
        window = self.params.max_concurrent_transforms
        pending = deque(objects)
        try:
            with ThreadPoolExecutor(max_workers=window, thread_name_prefix="invoke") as executor:
                while pending and not self.stopped.is_set():
                    obj = pending.popleft()
                    try:
                        self._transform_object(obj, headers, executor, window)
                    except InvocationError as err:
                        self._fail(obj, str(err) + self._container_note())
                    except (MlLifecycleError, OSError) as err:
                        self._fail(obj, str(err))
                    except Exception as err:  # e.g. MemoryError: fails this object, never lost with the thread
                        log.exception("Input %s failed unexpectedly", obj.uri)
                        self._fail(obj, f"{type(err).__name__}: {err}".removesuffix(": "))
        except Exception as err:  # the pool itself broke: what this host had left is not done
            log.exception("The transform worker for %s stopped", server.url)
            for obj in pending:
                self._fail(obj, f"not transformed: the worker stopped ({type(err).__name__}: {err})")
            pending.clear()
        for obj in pending:  # the transform was stopped before these
            self._fail(obj, STOPPED_OBJECT)

    def _container_note(self) -> str:
        """Say why a request failed when the host's container is no longer running; empty when it still runs."""
        server = self.server
        try:
            server.container.reload()
        except Exception:
            return f" (the serving container {server.container.name} is gone: something else removed it)"
        if server.container.status == "running":
            return ""
        return f" (the serving container {server.container.name} is {server.container.status}; its last lines: " + (
            self.engine.log_tail(server.container)[-500:] + ")"
        )

    def _fail(self, obj: ObjectInfo, reason: str) -> None:
        """Record that an object failed.

        :param obj: the object.
        :param reason: why, as the job record and TransformFailed show it.
        """
        with self.lock:
            self.failures[obj.relative_key] = reason
        log.error("Input %s failed: %s", obj.uri, reason)

    def _transform_object(
        self, obj: ObjectInfo, headers: dict[str, str], executor: ThreadPoolExecutor, window: int
    ) -> None:
        """Transform one object into ``<output_uri>/<relative key>.out``: by records, or streamed whole.

        :param obj: the input object.
        :param headers: the request headers.
        :param executor: the pool requests run on.
        :param window: requests in flight at once.
        """
        source = parse_uri(obj.uri)
        target = parse_uri(self.spec.output_uri, "output_uri").join(obj.relative_key + ".out")
        sides = ObjectSides(self.store_for, source, target, headers, self.progress)
        if self.plan.streams_objects:
            stream_object(sides, self.spec, self.plan, self.server)
        else:
            transform_records(sides, self.spec, self.plan, self.server, executor, window)
