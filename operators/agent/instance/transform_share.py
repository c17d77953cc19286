"""One EC2 host's share of a batch transform: the same TransformRunner, on this host's objects and container only."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from ml_lifecycle.agent.instance.host_results import RESULT_NAME, host_prefix
from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine
from ml_lifecycle.compute.local.transform.runner import TransformRunner
from ml_lifecycle.compute.records import StoreFor
from ml_lifecycle.core import labels
from ml_lifecycle.core.sharding import shard_round_robin
from ml_lifecycle.core.specs import TransformSpec
from ml_lifecycle.core.uris import ArtifactUri
from ml_lifecycle.stores.base import ObjectInfo

log = logging.getLogger(__name__)

# Marks the containers an instance started, so that on an engine several instances share (emulation) each instance
# removes only its own.
INSTANCE_LABEL = "ml-lifecycle.instance-id"


def host_share(objects: list[ObjectInfo], hosts: list[str], host: str) -> list[ObjectInfo]:
    """Return the objects a host transforms: the local runner's split of the listing across instance_count hosts.

    :param objects: every input object, as TransformRunner lists them.
    :param hosts: every host of the job, algo-1..N.
    :param host: this host.
    """
    return shard_round_robin(objects, len(hosts))[hosts.index(host)]


def host_result_uri(staging_uri: ArtifactUri, host: str) -> ArtifactUri:
    """Return where a host hands in its result: ``<staging>/hosts/<host>/result.json``.

    :param staging_uri: the job's staging prefix.
    :param host: the host name.
    """
    return host_prefix(staging_uri, host).join(RESULT_NAME)


class HostTransformRunner(TransformRunner):
    """A TransformRunner for one host of an EC2 transform: its share, its container, its result under staging."""

    def __init__(
        self,
        engine: DockerEngine,
        store_for: StoreFor,
        work_root: Path,
        host: str,
        instance_id: str,
        result_uri: ArtifactUri,
    ) -> None:
        """Hold what differs from a local run.

        :param engine: the instance's Docker engine.
        :param store_for: returns the store for a URI.
        :param work_root: the folder for the job's scratch files (visible to the engine).
        :param host: this host, ``algo-<launch index + 1>``.
        :param instance_id: this instance (labels its containers).
        :param result_uri: where this host's result goes (algo-1 merges every host's into the job record).
        """
        # The agent reaches the containers' published ports on the instance itself.
        super().__init__(engine, store_for, work_root, "127.0.0.1")
        self.host = host
        self.instance_id = instance_id
        self.result_uri = result_uri
        self.share: list[ObjectInfo] = []

    def choose_share(self, spec: TransformSpec, hosts: list[str]) -> tuple[int, int]:
        """List the inputs as the local runner does and keep this host's share; return (share size, total).

        :param spec: the transform spec.
        :param hosts: every host of the job, algo-1..N.
        """
        objects = super()._input_objects(spec)
        self.share = host_share(objects, hosts, self.host)
        return len(self.share), len(objects)

    def _input_objects(self, spec: TransformSpec) -> list[ObjectInfo]:
        """Return this host's share (chosen by choose_share before the run).

        :param spec: the transform spec.
        """
        return self.share

    def _record_uri(self, spec: TransformSpec, job_name: str) -> ArtifactUri:
        """Return this host's result, not the job record (algo-1 writes that).

        :param spec: the transform spec.
        :param job_name: the job's name.
        """
        return self.result_uri

    def _hosts(self, spec: TransformSpec) -> list[str]:
        """Return this host only: each instance serves its own share.

        :param spec: the transform spec.
        """
        return [self.host]

    def _clean_up(self, job_name: str, job_dir: Path) -> None:
        """Remove this instance's containers of the job and its scratch folder; errors are logged, never raised.

        :param job_name: the job's name.
        :param job_dir: the job's scratch folder.
        """
        try:
            for container in self.engine.containers({labels.JOB: job_name, INSTANCE_LABEL: self.instance_id}):
                self.engine.remove(container)
        except Exception as err:
            log.warning("Cleanup of %s on %s: %s", job_name, self.instance_id, err)
        shutil.rmtree(job_dir, ignore_errors=True)
