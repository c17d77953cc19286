"""Container jobs (training, processing) on a Docker engine: the inputs checked here, then a detached agent runs the
TrainingRunner with the kind's host contract."""

from __future__ import annotations

import signal
import threading
from collections.abc import Mapping
from typing import Any

from ml_lifecycle.compute.base import LogSink
from ml_lifecycle.compute.inputs import list_channels
from ml_lifecycle.compute.local.agent_identity import process_identity
from ml_lifecycle.compute.local.container_sizing import plan_gpus
from ml_lifecycle.compute.local.detached_jobs import DetachedJobs
from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine
from ml_lifecycle.compute.local.training.host_contract import TRAINING_CONTRACT, HostContract
from ml_lifecycle.compute.local.training.runner import TrainingRunner
from ml_lifecycle.errors import JobFailed
from ml_lifecycle.stores import StoreFor


class LocalTrainingJobs(DetachedJobs):
    """Runs each training (or processing) job in a detached agent on this host; the Docker engine runs its containers.

    :param region: the AWS region reported to containers.
    :param host_contract: what the kind of job puts in its hosts and takes out (default: training).
    :param kwargs: DetachedJobs's parameters.
    """

    def __init__(self, region: str, host_contract: HostContract = TRAINING_CONTRACT, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.region = region
        self.host_contract = host_contract

    def prepare(self, spec: Any, job_name: str, store_for: StoreFor, sink: LogSink) -> Any:
        """Find the image (pulling it when missing), check the engine has the GPUs, list every input; for the agent.

        :param spec: the job's spec.
        :param job_name: the job's name.
        :param store_for: returns the store for a URI.
        :param sink: the task log.
        """
        engine = DockerEngine()
        image = engine.ensure_image(spec.image_uri, self.logins)
        gpus = plan_gpus(engine, image.image_id, spec.instance_type, spec.gpus, spec.instance_count, sink)
        contract = self.host_contract
        return image, gpus, list_channels(dict(contract.channels(spec)), store_for, contract.inputs_parameter)

    def run_agent(
        self,
        spec: Any,
        job_name: str,
        owner: Mapping[str, str],
        prepared: Any,
        store_for: StoreFor,
        sink: LogSink,
        secret_environment: Mapping[str, str],
    ) -> int:
        """Run the job; SIGTERM stops its containers gracefully and the runner records Stopped.

        :param spec: the job's spec.
        :param job_name: the job's name.
        :param owner: the Airflow identity labels.
        :param prepared: the image, each host's GPUs and the channel listings.
        :param store_for: returns the store for a URI.
        :param sink: the agent's log.
        :param secret_environment: the values of the job's secrets, for its containers' environment only.
        """
        image, gpus, listings = prepared
        runner = TrainingRunner(
            DockerEngine(), store_for, self.work_root, self.region, host_contract=self.host_contract
        )
        runner.agent = dict(process_identity())
        runner.read_secrets = lambda: secret_environment
        signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=runner.stop, daemon=True).start())
        try:
            runner.run(spec, job_name, dict(owner), sink, listings, image=image, gpus=gpus)
        except JobFailed:
            return 1
        return 0
