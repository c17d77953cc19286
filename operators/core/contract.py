"""SageMaker's container contract: the /opt/ml layout and the config files, planned without touching disk."""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the specs are not needed to import this module (the endpoint proxy's config does at parse time)
    from ml_lifecycle.core.specs import Channel

OPT_ML = "/opt/ml"
CONFIG_DIR = f"{OPT_ML}/input/config"
DATA_DIR = f"{OPT_ML}/input/data"
MODEL_DIR = f"{OPT_ML}/model"
OUTPUT_DIR = f"{OPT_ML}/output"
OUTPUT_DATA_DIR = f"{OUTPUT_DIR}/data"
FAILURE_FILE = f"{OUTPUT_DIR}/failure"
CHECKPOINT_DIR = f"{OPT_ML}/checkpoints"
FAILURE_REASON_MAX_CHARS = 1024

SERVING_PORT = 8080
PING_PATH = "/ping"
INVOCATIONS_PATH = "/invocations"
EXECUTION_PARAMETERS_PATH = "/execution-parameters"
PING_TIMEOUT_S = 2.0
STOP_GRACE_TRAINING_S = 120
STOP_GRACE_SERVING_S = 30

MODEL_ARCHIVE = "model.tar.gz"
OUTPUT_ARCHIVE = "output.tar.gz"
GROUP_NAME = "homogeneousCluster"
NETWORK_INTERFACE = "eth0"


def host_names(instance_count: int) -> list[str]:
    """Return the host names SageMaker uses: algo-1 .. algo-N (sorted as SageMaker sorts them).

    :param instance_count: the number of hosts.
    """
    return sorted(f"algo-{i}" for i in range(1, instance_count + 1))


def hyperparameters_json(hyperparameters: Mapping[str, str]) -> str:
    """Render hyperparameters.json: every value a string.

    :param hyperparameters: name -> string value.
    """
    return json.dumps({k: str(v) for k, v in hyperparameters.items()}, sort_keys=True)


def input_data_config(channels: Mapping[str, Channel]) -> dict[str, dict[str, str]]:
    """Render inputdataconfig.json: per channel its mode, distribution, wrapper and content type.

    :param channels: channel name -> Channel.
    """
    config: dict[str, dict[str, str]] = {}
    for name, channel in sorted(channels.items()):
        entry = {
            "TrainingInputMode": channel.input_mode,
            "S3DistributionType": channel.distribution,
            "RecordWrapperType": "None",
        }
        if channel.content_type:
            entry["ContentType"] = channel.content_type
        config[name] = entry
    return config


def resource_config(hosts: Sequence[str], current_host: str, instance_type: str) -> dict[str, object]:
    """Render resourceconfig.json for one host.

    :param hosts: every host of the job, sorted.
    :param current_host: the host this file is for.
    :param instance_type: the instance type reported to the container.
    """
    return {
        "current_host": current_host,
        "current_instance_type": instance_type,
        "current_group_name": GROUP_NAME,
        "hosts": list(hosts),
        "instance_groups": [{"instance_group_name": GROUP_NAME, "instance_type": instance_type, "hosts": list(hosts)}],
        "network_interface_name": NETWORK_INTERFACE,
    }


def config_files(
    hyperparameters: Mapping[str, str],
    channels: Mapping[str, Channel],
    hosts: Sequence[str],
    current_host: str,
    instance_type: str,
) -> dict[str, str]:
    """Return file name -> content for /opt/ml/input/config of one host.

    :param hyperparameters: name -> string value.
    :param channels: channel name -> Channel.
    :param hosts: every host of the job, sorted.
    :param current_host: the host these files are for.
    :param instance_type: the instance type reported to the container.
    """
    return {
        "hyperparameters.json": hyperparameters_json(hyperparameters),
        "inputdataconfig.json": json.dumps(input_data_config(channels), sort_keys=True),
        "resourceconfig.json": json.dumps(resource_config(hosts, current_host, instance_type), sort_keys=True),
    }


def training_command(entrypoint: Sequence[str], arguments: Sequence[str]) -> tuple[list[str] | None, list[str]]:
    """Return (entrypoint override or None, command) the way SageMaker starts a training container.

    :param entrypoint: ContainerEntrypoint, or empty to keep the image's.
    :param arguments: ContainerArguments, or empty for ``train``.
    """
    if entrypoint:
        return list(entrypoint), list(arguments)
    return None, list(arguments) if arguments else ["train"]


def failure_reason(text: str) -> str:
    """Cut the content of /opt/ml/output/failure to what SageMaker keeps as FailureReason.

    :param text: the file's content.
    """
    return text.strip()[:FAILURE_REASON_MAX_CHARS]


@dataclass(frozen=True)
class Mount:
    """A bind mount of a host path into a container.

    :param source: the path on the engine's host.
    :param target: the path in the container.
    :param read_only: whether the container may write.
    """

    source: str
    target: str
    read_only: bool = False


@dataclass(frozen=True)
class HostLayout:
    """Where one host's /opt/ml lives on the engine's host.

    :param root: the host's working folder.
    """

    root: str

    @property
    def config_dir(self) -> str:
        """Folder mounted at /opt/ml/input/config."""
        return posixpath.join(self.root, "input", "config")

    @property
    def model_dir(self) -> str:
        """Folder mounted at /opt/ml/model."""
        return posixpath.join(self.root, "model")

    @property
    def output_dir(self) -> str:
        """Folder mounted at /opt/ml/output."""
        return posixpath.join(self.root, "output")

    @property
    def output_data_dir(self) -> str:
        """Folder seen as /opt/ml/output/data."""
        return posixpath.join(self.output_dir, "data")

    @property
    def failure_file(self) -> str:
        """The file seen as /opt/ml/output/failure."""
        return posixpath.join(self.output_dir, "failure")

    @property
    def checkpoint_dir(self) -> str:
        """Folder mounted at /opt/ml/checkpoints."""
        return posixpath.join(self.root, "checkpoints")

    def host_outputs(self) -> dict[str, str]:
        """Return name -> folder of what this host hands in when it ran on another machine: model and output data."""
        return {"model": self.model_dir, "output": self.output_data_dir}

    def folders(self) -> tuple[str, ...]:
        """Return the folders made before a host starts: its config, model, output data and checkpoints."""
        return (self.config_dir, self.model_dir, self.output_data_dir, self.checkpoint_dir)

    def staged_channel_dir(self, channel: str) -> str:
        """Folder a channel is downloaded into when it cannot be mounted in place.

        :param channel: the channel name.
        """
        return posixpath.join(self.root, "input", "data", channel)

    def mounts(self, channel_sources: Mapping[str, str]) -> list[Mount]:
        """Return the bind mounts that make up /opt/ml for this host.

        :param channel_sources: channel name -> folder on the host holding that channel's data.
        """
        mounts = [
            Mount(self.config_dir, CONFIG_DIR, read_only=True),
            Mount(self.model_dir, MODEL_DIR),
            Mount(self.output_dir, OUTPUT_DIR),
            Mount(self.checkpoint_dir, CHECKPOINT_DIR),
        ]
        mounts += [
            Mount(source, f"{DATA_DIR}/{name}", read_only=True) for name, source in sorted(channel_sources.items())
        ]
        return mounts


def training_environment(job_name: str, region: str, user_environment: Mapping[str, str]) -> dict[str, str]:
    """Return the environment SageMaker gives a training container.

    :param job_name: the training job name (TRAINING_JOB_NAME).
    :param region: the AWS region reported to the container.
    :param user_environment: the user's variables; they cannot override the job name.
    """
    env = dict(user_environment)
    env.update({"TRAINING_JOB_NAME": job_name, "AWS_REGION": region})
    env.setdefault("AWS_DEFAULT_REGION", region)
    return env
