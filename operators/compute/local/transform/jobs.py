"""Batch transforms on a Docker engine: the input listed and the image found here, then a detached agent runs them."""

from __future__ import annotations

import signal
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ml_lifecycle.compute.base import LogSink
from ml_lifecycle.compute.inputs import list_transform_inputs
from ml_lifecycle.compute.local.container_sizing import plan_gpus
from ml_lifecycle.compute.local.detached_jobs import DetachedJobs
from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine
from ml_lifecycle.compute.local.transform.runner import TransformRunner
from ml_lifecycle.core.specs import TransformSpec
from ml_lifecycle.errors import TransformFailed
from ml_lifecycle.stores import StoreFor


class LocalTransformJobs(DetachedJobs):
    """Runs each transform in a detached agent on this host, so a retry reattaches and the wait can be deferred.

    :param serving_host: the address the serving containers' published ports are reached at.
    :param kwargs: DetachedJobs's parameters.
    """

    def __init__(self, serving_host: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.serving_host = serving_host

    def prepare(self, spec: TransformSpec, job_name: str, store_for: StoreFor, sink: LogSink) -> Any:
        """List the input objects (none is an error), find the image (pulling it), check the engine has the GPUs.

        :param spec: the transform spec.
        :param job_name: the job's name.
        :param store_for: returns the store for a URI.
        :param sink: the task log.
        """
        objects = list_transform_inputs(spec, store_for)
        engine = DockerEngine()
        image = engine.ensure_image(spec.image_uri, self.logins)
        gpus = plan_gpus(engine, image.image_id, spec.instance_type, spec.gpus, spec.instance_count, sink)
        sink(f"Transform {job_name}: {len(objects)} input object(s) on {spec.instance_count} container(s)")
        return objects, gpus

    def run_agent(
        self,
        spec: TransformSpec,
        job_name: str,
        owner: Mapping[str, str],
        prepared: Any,
        store_for: StoreFor,
        sink: LogSink,
        secret_environment: Mapping[str, str],
    ) -> int:
        """Run the transform; SIGTERM stops it (no new request, the containers stopped) and it records Stopped.

        :param spec: the transform spec.
        :param job_name: the job's name.
        :param owner: the Airflow identity labels.
        :param prepared: the input objects and each container's GPUs.
        :param store_for: returns the store for a URI.
        :param sink: the agent's log.
        :param secret_environment: the values of the job's secrets, for its containers' environment only.
        """
        objects, gpus = prepared
        runner = TransformRunner(DockerEngine(), store_for, Path(self.work_root), self.serving_host)
        runner.read_secrets = lambda: secret_environment
        signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=runner.stop, daemon=True).start())
        try:
            runner.run(spec, job_name, dict(owner), sink, objects=objects, gpus=gpus)
        except TransformFailed as err:
            sink(str(err))
            return 1
        return 0
