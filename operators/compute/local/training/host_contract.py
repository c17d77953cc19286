"""What a kind of container job puts in its hosts and takes out of them; the TrainingRunner runs any such kind.

Training and processing share everything about running hosts (algo-1..N, networks, isolation, GPUs, role
credentials, the deadline, stop and cleanup); they differ in the /opt/ml layout, the config files, the command, the
environment and what is uploaded at the end. Each kind says those through one of these contracts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ml_lifecycle.core import contract
from ml_lifecycle.core.job_kinds import TRAINING, JobKind, job_output_uri
from ml_lifecycle.core.script_mode import job_hyperparameters
from ml_lifecycle.core.specs import Channel
from ml_lifecycle.core.status import JobStatus
from ml_lifecycle.core.uris import ArtifactUri, parse_uri

if TYPE_CHECKING:
    from ml_lifecycle.compute.local.training.checkpoints import CheckpointSync
    from ml_lifecycle.compute.local.training.export import MergedExport
    from ml_lifecycle.compute.local.training.host_watch import WatchResult
    from ml_lifecycle.compute.records import StoreFor


class HostContract(Protocol):
    """The kind-specific part of a container job, as the runner asks for it."""

    kind: JobKind
    # What the user calls the staged inputs, in error messages (``channels``, ``inputs``).
    inputs_parameter: str

    def job_uri(self, spec: Any, job_name: str) -> ArtifactUri:
        """Return the folder of the job's record (and, for training, its ``output/``).

        :param spec: the job's spec.
        :param job_name: the job's name.
        """
        ...

    def channels(self, spec: Any) -> Mapping[str, Channel]:
        """Return name -> what is staged for the hosts before they start.

        :param spec: the job's spec.
        """
        ...

    def gunzipped(self, spec: Any) -> frozenset[str]:
        """Return the names of the staged inputs whose objects are decompressed as they are staged.

        :param spec: the job's spec.
        """
        ...

    def layout(self, spec: Any, root: str) -> Any:
        """Return where one host's /opt/ml lives below root (a HostLayout or ProcessingLayout).

        :param spec: the job's spec.
        :param root: the host's working folder.
        """
        ...

    def config_files(self, spec: Any, job_name: str, region: str, hosts: Sequence[str], host: str) -> dict[str, str]:
        """Return file name -> content written to the host's config folder.

        :param spec: the job's spec.
        :param job_name: the job's name.
        :param region: the AWS region reported to the containers.
        :param hosts: every host of the job.
        :param host: the host the files are for.
        """
        ...

    def command(self, spec: Any) -> tuple[list[str] | None, list[str]]:
        """Return (entrypoint override or None, command) the containers start with.

        :param spec: the job's spec.
        """
        ...

    def environment(self, spec: Any, job_name: str, region: str) -> dict[str, str]:
        """Return the containers' environment (secrets and role credentials are added by the runner).

        :param spec: the job's spec.
        :param job_name: the job's name.
        :param region: the AWS region reported to the containers.
        """
        ...

    def hyperparameters(self, spec: Any, job_name: str, region: str) -> dict[str, str]:
        """Return the hyperparameters the record shows (as the containers get them).

        :param spec: the job's spec.
        :param job_name: the job's name.
        :param region: the AWS region reported to the containers.
        """
        ...

    def live_syncs(
        self, spec: Any, layouts: Mapping[str, Any], store_for: StoreFor, interval_s: float
    ) -> list[CheckpointSync]:
        """Return the folders kept in step with a prefix while the hosts run, restored already where they restore.

        :param spec: the job's spec.
        :param layouts: host -> layout, for the hosts here.
        :param store_for: returns the store for a URI.
        :param interval_s: seconds between syncs.
        """
        ...

    def uploads(self, status: str, watched: WatchResult) -> bool:
        """Say whether the outputs are uploaded for a job that ended so.

        :param status: the job's final JobStatus.
        :param watched: how its hosts ended.
        """
        ...

    def exit_message(self, layouts: Mapping[str, Any]) -> str:
        """Return what the hosts said as they exited, as the job's kind reports it ("" for kinds without one).

        :param layouts: host -> layout, for the hosts here.
        """
        ...

    def export(self, store_for: StoreFor) -> MergedExport:
        """Return how the outputs are uploaded when every host ran here.

        :param store_for: returns the store for a URI.
        """
        ...


class TrainingContract:
    """Training: channels under /opt/ml/input/data, ``train``, hyperparameters, model.tar.gz and output.tar.gz."""

    kind: JobKind = TRAINING
    inputs_parameter: str = "channels"

    def job_uri(self, spec: Any, job_name: str) -> ArtifactUri:
        """Return ``<output_path>/<job>``.

        :param spec: the training spec.
        :param job_name: the job's name.
        """
        return job_output_uri(spec.output_path, job_name)

    def channels(self, spec: Any) -> Mapping[str, Channel]:
        """Return the training channels.

        :param spec: the training spec.
        """
        return spec.channels

    def gunzipped(self, spec: Any) -> frozenset[str]:
        """Return none: a training channel's Gzip applies to Pipe mode only.

        :param spec: the training spec.
        """
        return frozenset()

    def layout(self, spec: Any, root: str) -> contract.HostLayout:
        """Return the training layout.

        :param spec: the training spec.
        :param root: the host's working folder.
        """
        return contract.HostLayout(root)

    def config_files(self, spec: Any, job_name: str, region: str, hosts: Sequence[str], host: str) -> dict[str, str]:
        """Return hyperparameters.json, inputdataconfig.json and resourceconfig.json.

        :param spec: the training spec.
        :param job_name: the job's name.
        :param region: the AWS region.
        :param hosts: every host.
        :param host: this host.
        """
        hyperparameters = job_hyperparameters(spec, job_name, region)
        return contract.config_files(hyperparameters, spec.channels, hosts, host, spec.instance_type)

    def command(self, spec: Any) -> tuple[list[str] | None, list[str]]:
        """Return SageMaker's training command (``train`` unless overridden).

        :param spec: the training spec.
        """
        return contract.training_command(spec.entrypoint, spec.arguments)

    def environment(self, spec: Any, job_name: str, region: str) -> dict[str, str]:
        """Return TRAINING_JOB_NAME, the region and the user's variables.

        :param spec: the training spec.
        :param job_name: the job's name.
        :param region: the AWS region.
        """
        return contract.training_environment(job_name, region, spec.environment)

    def hyperparameters(self, spec: Any, job_name: str, region: str) -> dict[str, str]:
        """Return the hyperparameters as the containers get them.

        :param spec: the training spec.
        :param job_name: the job's name.
        :param region: the AWS region.
        """
        return job_hyperparameters(spec, job_name, region)

    def live_syncs(
        self, spec: Any, layouts: Mapping[str, Any], store_for: StoreFor, interval_s: float
    ) -> list[CheckpointSync]:
        """Return the checkpoint sync when checkpoint_uri is set, its checkpoints restored into every host here.

        :param spec: the training spec.
        :param layouts: host -> layout, for the hosts here.
        :param store_for: returns the store for a URI.
        :param interval_s: seconds between syncs.
        """
        if not spec.checkpoint_uri:
            return []
        from ml_lifecycle.compute.local.training.checkpoints import CheckpointSync

        folders = {host: layout.checkpoint_dir for host, layout in layouts.items()}
        sync = CheckpointSync(parse_uri(spec.checkpoint_uri, "checkpoint_uri"), folders, store_for, interval_s)
        sync.restore()
        return [sync]

    def uploads(self, status: str, watched: WatchResult) -> bool:
        """Say yes for a completed job, and for one stopped or out of time (SageMaker keeps what it saved).

        :param status: the final status.
        :param watched: how the hosts ended.
        """
        return status == JobStatus.COMPLETED or watched.max_runtime_exceeded or watched.stopped

    def exit_message(self, layouts: Mapping[str, Any]) -> str:
        """Return "": a training job has no exit message (its failure file is its FailureReason).

        :param layouts: host -> layout, for the hosts here.
        """
        return ""

    def export(self, store_for: StoreFor) -> MergedExport:
        """Return the archive export (model.tar.gz, output.tar.gz).

        :param store_for: returns the store for a URI.
        """
        from ml_lifecycle.compute.local.training.export import ArchiveExport

        return ArchiveExport(store_for)


TRAINING_CONTRACT = TrainingContract()
