"""A processing host's /opt/ml: its layout, and processingjobconfig.json and resourceconfig.json as SageMaker writes them.

SageMaker writes the job's request (with its name and ARN) to processingjobconfig.json, unset optional fields as
null (ContainerEntrypoint, ContainerArguments, KmsKeyId, VolumeKmsKeyId) and each input's S3DownloadMode, and a
resourceconfig.json of only ``current_host`` and ``hosts`` (the shapes of SageMaker's "How to Build Your Own
Processing Container" page; the SDK's local mode writes the same).
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ml_lifecycle.core.contract import OUTPUT_DIR, Mount
from ml_lifecycle.core.processing_spec import ProcessingSpec

CONFIG_DIR = "/opt/ml/config"
JOB_CONFIG_NAME = "processingjobconfig.json"
RESOURCE_CONFIG_NAME = "resourceconfig.json"
# We run in no AWS account; the ARN keeps SageMaker's shape with this account, as moto's default account.
ACCOUNT_ID = "000000000000"
# Every input is staged before the container starts: SageMaker's StartOfJob (its only other mode, Continuous, is not
# in CreateProcessingJob's request).
DOWNLOAD_MODE = "StartOfJob"
# DescribeProcessingJob's ExitMessage: the hosts' /opt/ml/output/message files concatenated, its first 1 KB.
EXIT_MESSAGE_BYTES = 1024


def exit_message(messages: Sequence[bytes]) -> str:
    """Return a processing job's ExitMessage from what its hosts wrote to /opt/ml/output/message, in host order.

    :param messages: each host's message file's content (hosts that wrote none left out).
    """
    joined = b"".join(messages)[:EXIT_MESSAGE_BYTES]
    return joined.decode("utf-8", errors="ignore")  # a character cut at the limit is dropped, not garbled


def processing_job_arn(job_name: str, region: str) -> str:
    """Return the job's ARN in SageMaker's form (SageMaker lower-cases the name in ARNs).

    :param job_name: the job's name.
    :param region: the AWS region reported to the container.
    """
    return f"arn:aws:sagemaker:{region}:{ACCOUNT_ID}:processing-job/{job_name.lower()}"


def processing_job_config(spec: ProcessingSpec, job_name: str, region: str) -> dict[str, Any]:
    """Return processingjobconfig.json's content: the job's request, field for field as SageMaker names them.

    :param spec: the processing spec.
    :param job_name: the job's name.
    :param region: the AWS region reported to the container.
    """
    app: dict[str, Any] = {
        "ImageUri": spec.image_uri,
        "ContainerEntrypoint": list(spec.entrypoint) if spec.entrypoint else None,
        "ContainerArguments": list(spec.arguments) if spec.arguments else None,
    }
    return {
        "ProcessingJobArn": processing_job_arn(job_name, region),
        "ProcessingJobName": job_name,
        "AppSpecification": app,
        "Environment": dict(spec.environment),
        "NetworkConfig": {
            "EnableInterContainerTrafficEncryption": False,
            "EnableNetworkIsolation": spec.enable_network_isolation,
        },
        "ProcessingInputs": [
            {
                "InputName": item.name,
                "AppManaged": False,
                "S3Input": {
                    "S3Uri": item.source,
                    "LocalPath": item.local_path,
                    "S3DataType": item.data_type,
                    "S3InputMode": item.input_mode,
                    "S3DataDistributionType": item.distribution,
                    "S3CompressionType": item.compression,
                    "S3DownloadMode": DOWNLOAD_MODE,
                },
            }
            for item in spec.inputs
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": item.name,
                    "AppManaged": False,
                    "S3Output": {
                        "S3Uri": item.destination,
                        "LocalPath": item.local_path,
                        "S3UploadMode": item.upload_mode,
                    },
                }
                for item in spec.outputs
            ],
            "KmsKeyId": None,  # refused in the request: the bucket's own encryption applies
        },
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": spec.instance_count,
                "InstanceType": spec.instance_type,
                "VolumeSizeInGB": spec.volume_size_gb,
                # The spec holds no volume key: a request's VolumeKmsKeyId becomes EC2's own volume setting.
                "VolumeKmsKeyId": None,
            }
        },
        "RoleArn": spec.role_arn or "",
        "StoppingCondition": {"MaxRuntimeInSeconds": spec.max_runtime_s},
    }


def processing_config_files(
    spec: ProcessingSpec, job_name: str, region: str, hosts: Sequence[str], current_host: str
) -> dict[str, str]:
    """Return file name -> content for one host's /opt/ml/config.

    :param spec: the processing spec.
    :param job_name: the job's name.
    :param region: the AWS region reported to the container.
    :param hosts: every host of the job, sorted.
    :param current_host: the host these files are for.
    """
    return {
        JOB_CONFIG_NAME: json.dumps(processing_job_config(spec, job_name, region), sort_keys=True),
        RESOURCE_CONFIG_NAME: json.dumps({"current_host": current_host, "hosts": list(hosts)}, sort_keys=True),
    }


@dataclass(frozen=True)
class ProcessingLayout:
    """Where one processing host's /opt/ml lives on the engine's host: config, output (failure), inputs and outputs.

    :param root: the host's working folder.
    :param inputs: input name -> its LocalPath in the container.
    :param outputs: output name -> its LocalPath in the container.
    :param continuous: the outputs uploaded while the job runs (each host syncs its own; none is handed in).
    """

    root: str
    inputs: Mapping[str, str]
    outputs: Mapping[str, str]
    continuous: frozenset[str] = frozenset()

    @property
    def config_dir(self) -> str:
        """Folder mounted at /opt/ml/config."""
        return posixpath.join(self.root, "config")

    @property
    def output_dir(self) -> str:
        """Folder mounted at /opt/ml/output (where a failing container may explain itself in ``failure``)."""
        return posixpath.join(self.root, "output")

    @property
    def failure_file(self) -> str:
        """The file seen as /opt/ml/output/failure."""
        return posixpath.join(self.output_dir, "failure")

    @property
    def message_file(self) -> str:
        """The file seen as /opt/ml/output/message (what the container says as it exits: its ExitMessage)."""
        return posixpath.join(self.output_dir, "message")

    def output_folder(self, name: str) -> str:
        """Folder seen at an output's LocalPath: mounted there, or for an output inside another output's LocalPath,
        the matching folder inside the outer one's (so the outer one's upload holds it too, as on SageMaker).

        :param name: the output's name.
        """
        outer = self.enclosing_output(name)
        if outer is None:
            return posixpath.join(self.root, "outputs", name)
        inside = posixpath.relpath(self.outputs[name], self.outputs[outer])
        return posixpath.join(self.root, "outputs", outer, inside)

    def enclosing_output(self, name: str) -> str | None:
        """Return the outermost output whose LocalPath holds this output's, or None.

        :param name: the output's name.
        """
        path = self.outputs[name]
        holders = [other for other, held in self.outputs.items() if path.startswith(held + "/")]
        return min(holders, key=lambda other: len(self.outputs[other])) if holders else None

    def staged_channel_dir(self, name: str) -> str:
        """Folder an input is staged into when it cannot be mounted in place.

        :param name: the input's name.
        """
        return posixpath.join(self.root, "inputs", name)

    def host_outputs(self) -> dict[str, str]:
        """Return output name -> its folder, for the outputs uploaded at the end (what this host hands in)."""
        return {name: self.output_folder(name) for name in sorted(self.outputs) if name not in self.continuous}

    def folders(self) -> tuple[str, ...]:
        """Return the folders made before a host starts: its config, output and every output's folder."""
        return (self.config_dir, self.output_dir, *(self.output_folder(name) for name in sorted(self.outputs)))

    def mounts(self, input_sources: Mapping[str, str]) -> list[Mount]:
        """Return the bind mounts: config (read-only), output, each input (read-only) and each output at its LocalPath
        (but those inside another output's, which are in its mount).

        :param input_sources: input name -> folder on the host holding its data.
        """
        mounts = [Mount(self.config_dir, CONFIG_DIR, read_only=True), Mount(self.output_dir, OUTPUT_DIR)]
        mounts += [Mount(source, self.inputs[name], read_only=True) for name, source in sorted(input_sources.items())]
        outermost = {name: path for name, path in self.outputs.items() if self.enclosing_output(name) is None}
        mounts += [Mount(self.output_folder(name), path) for name, path in sorted(outermost.items())]
        return mounts
