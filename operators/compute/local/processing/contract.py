"""Processing's host contract: inputs at their LocalPaths, /opt/ml/config, the image's own command, outputs uploaded."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ml_lifecycle.core.job_kinds import PROCESSING, JobKind, job_output_uri
from ml_lifecycle.core.processing_config import (
    EXIT_MESSAGE_BYTES,
    ProcessingLayout,
    exit_message,
    processing_config_files,
)
from ml_lifecycle.core.processing_spec import ProcessingOutput, ProcessingSpec
from ml_lifecycle.core.specs import Channel
from ml_lifecycle.core.status import JobStatus
from ml_lifecycle.core.uris import ArtifactUri, parse_uri

if TYPE_CHECKING:
    from ml_lifecycle.compute.local.processing.export import ProcessingExport
    from ml_lifecycle.compute.local.training.checkpoints import CheckpointSync
    from ml_lifecycle.compute.local.training.host_watch import WatchResult
    from ml_lifecycle.compute.records import StoreFor


class ProcessingContract:
    """What a processing job puts in its hosts and takes out of them (SageMaker Processing's contract)."""

    kind: JobKind = PROCESSING
    inputs_parameter: str = "inputs"

    def job_uri(self, spec: ProcessingSpec, job_name: str) -> ArtifactUri:
        """Return ``<records_uri>/<job>``, where the record (and on EC2 the staging) lives.

        :param spec: the processing spec.
        :param job_name: the job's name.
        """
        return job_output_uri(spec.records_uri, job_name)

    def channels(self, spec: ProcessingSpec) -> Mapping[str, Channel]:
        """Return each input as the channel the stager understands (its source, data type and distribution).

        :param spec: the processing spec.
        """
        return {item.name: Channel(item.source, item.distribution, None, item.data_type) for item in spec.inputs}

    def gunzipped(self, spec: ProcessingSpec) -> frozenset[str]:
        """Return the inputs with S3CompressionType Gzip.

        :param spec: the processing spec.
        """
        return frozenset(item.name for item in spec.inputs if item.compression == "Gzip")

    def layout(self, spec: ProcessingSpec, root: str) -> ProcessingLayout:
        """Return the processing layout of one host.

        :param spec: the processing spec.
        :param root: the host's working folder.
        """
        inputs = {item.name: item.local_path for item in spec.inputs}
        outputs = {item.name: item.local_path for item in spec.outputs}
        return ProcessingLayout(root, inputs, outputs, frozenset(_continuous(spec)))

    def config_files(
        self, spec: ProcessingSpec, job_name: str, region: str, hosts: Sequence[str], host: str
    ) -> dict[str, str]:
        """Return processingjobconfig.json and resourceconfig.json.

        :param spec: the processing spec.
        :param job_name: the job's name.
        :param region: the AWS region.
        :param hosts: every host.
        :param host: this host.
        """
        return processing_config_files(spec, job_name, region, hosts, host)

    def command(self, spec: ProcessingSpec) -> tuple[list[str] | None, list[str]]:
        """Return ContainerEntrypoint (None keeps the image's) and ContainerArguments (empty keeps its CMD).

        :param spec: the processing spec.
        """
        return (list(spec.entrypoint) or None), list(spec.arguments)

    def environment(self, spec: ProcessingSpec, job_name: str, region: str) -> dict[str, str]:
        """Return the user's Environment and the region (the toolkit-free contract sets nothing else).

        :param spec: the processing spec.
        :param job_name: the job's name.
        :param region: the AWS region.
        """
        environment = dict(spec.environment)
        environment.setdefault("AWS_REGION", region)
        environment.setdefault("AWS_DEFAULT_REGION", region)
        return environment

    def hyperparameters(self, spec: Any, job_name: str, region: str) -> dict[str, str]:
        """Return none: a processing job has no hyperparameters.

        :param spec: the processing spec.
        :param job_name: the job's name.
        :param region: the AWS region.
        """
        return {}

    def live_syncs(
        self, spec: ProcessingSpec, layouts: Mapping[str, ProcessingLayout], store_for: StoreFor, interval_s: float
    ) -> list[CheckpointSync]:
        """Return one sync per Continuous output: every host here's folder kept in step with the destination.

        :param spec: the processing spec.
        :param layouts: host -> layout, for the hosts here.
        :param store_for: returns the store for a URI.
        :param interval_s: seconds between syncs.
        """
        from ml_lifecycle.compute.local.training.checkpoints import CheckpointSync

        return [
            CheckpointSync(
                parse_uri(output.destination, f"outputs[{output.name!r}].destination"),
                {host: layout.output_folder(output.name) for host, layout in layouts.items()},
                store_for,
                interval_s,
            )
            for output in _continuous(spec).values()
        ]

    def uploads(self, status: str, watched: WatchResult) -> bool:
        """Say yes only for a completed job: SageMaker uploads EndOfJob outputs when the job succeeds.

        :param status: the final status.
        :param watched: how the hosts ended.
        """
        return status == JobStatus.COMPLETED

    def exit_message(self, layouts: Mapping[str, ProcessingLayout]) -> str:
        """Return the ExitMessage: the hosts' /opt/ml/output/message files, in host order, its first 1 KB.

        :param layouts: host -> layout, for the hosts here.
        """
        from ml_lifecycle.compute.local.container_files import read_container_file

        found = (read_container_file(layouts[host].message_file, EXIT_MESSAGE_BYTES) for host in sorted(layouts))
        return exit_message([message for message in found if message is not None])

    def export(self, store_for: StoreFor) -> ProcessingExport:
        """Return the export that uploads each output's folder to its destination.

        :param store_for: returns the store for a URI.
        """
        from ml_lifecycle.compute.local.processing.export import ProcessingExport

        return ProcessingExport(store_for)


def _continuous(spec: ProcessingSpec) -> dict[str, ProcessingOutput]:
    """Return name -> output of the outputs uploaded while the job runs.

    :param spec: the processing spec.
    """
    return {output.name: output for output in spec.outputs if output.upload_mode == "Continuous"}


PROCESSING_CONTRACT = ProcessingContract()
