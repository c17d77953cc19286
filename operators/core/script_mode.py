"""Script mode as the SageMaker Python SDK arranges it: the user's code as sourcedir.tar.gz, named to AWS's toolkits
by JSON-encoded ``sagemaker_*`` hyperparameters.

The code reaches the container as the SDK sends it to a network-isolated job: an input channel named ``code`` holding
sourcedir.tar.gz, and ``sagemaker_submit_directory`` pointing at the file (the training toolkit extracts a tar file
given as the submit directory into /opt/ml/code). Every backend stages channels already, so the code goes wherever
the data goes: mounted or copied locally, fetched from S3 with the instance role on EC2.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from ml_lifecycle.core.errors import SpecError

CODE_CHANNEL = "code"
SOURCE_ARCHIVE = "sourcedir.tar.gz"
# SageMaker's own path for the code channel's archive (the SDK's CONTAINER_CODE_CHANNEL_SOURCEDIR_PATH).
CONTAINER_SOURCE_ARCHIVE = f"/opt/ml/input/data/{CODE_CHANNEL}/{SOURCE_ARCHIVE}"
PROGRAM = "sagemaker_program"
SUBMIT_DIRECTORY = "sagemaker_submit_directory"
LOG_LEVEL = "sagemaker_container_log_level"
JOB_NAME = "sagemaker_job_name"
REGION = "sagemaker_region"
DEFAULT_LOG_LEVEL = logging.INFO  # the SDK's container_log_level default (20)
# What sagemaker-training 5.x accepts as an entry point (process.validate_entry_point).
ENTRY_POINT = re.compile(r"[A-Za-z0-9._][A-Za-z0-9._+-]*(/[A-Za-z0-9._+-]+)*")


def check_entry_point(entry_point: Any) -> str:
    """Return an entry point relative to the source directory, or raise SpecError saying what to write.

    :param entry_point: e.g. ``train.py`` or ``jobs/train.py``.
    """
    text = entry_point.strip() if isinstance(entry_point, str) else ""
    parts = text.split("/")
    if not ENTRY_POINT.fullmatch(text) or any(p in (".", "..") for p in parts):
        raise SpecError(
            "entry_point",
            f"{entry_point!r} is not a path inside the source directory",
            "Write a relative path without '..', e.g. 'train.py' (SageMaker's toolkits refuse anything else)",
        )
    return text


def encode_hyperparameters(hyperparameters: Mapping[str, Any] | None) -> dict[str, str]:
    """Return hyperparameters as the SDK sends a framework job's: every value JSON-encoded (``"a"`` -> ``'"a"'``).

    :param hyperparameters: name -> value (numbers, strings, booleans, lists, dicts).
    """
    encoded: dict[str, str] = {}
    for name, value in (hyperparameters or {}).items():
        try:
            encoded[str(name)] = json.dumps(value)
        except TypeError as err:
            raise SpecError(
                f"hyperparameters[{name!r}]", f"{value!r} cannot be written as JSON", "Pass numbers, strings or lists"
            ) from err
    return encoded


def script_hyperparameters(
    program: str, job_name: str, region: str, log_level: int = DEFAULT_LOG_LEVEL
) -> dict[str, str]:
    """Return the ``sagemaker_*`` hyperparameters of a script-mode training job, JSON-encoded as the SDK writes them.

    :param program: the entry point, relative to the source directory.
    :param job_name: the training job's name.
    :param region: the AWS region reported to the container.
    :param log_level: the toolkit's log level (a ``logging`` level).
    """
    return encode_hyperparameters(
        {
            PROGRAM: program,
            SUBMIT_DIRECTORY: CONTAINER_SOURCE_ARCHIVE,
            LOG_LEVEL: int(log_level),
            JOB_NAME: job_name,
            REGION: region,
        }
    )


def source_prefix(output_path: str, digest: str) -> str:
    """Return where a source archive of a given content is kept: ``<output_path>/source/<digest>/`` (content-
    addressed: an unchanged directory maps to the same archive, uploaded once for every job under output_path).

    :param output_path: the training job's output_path.
    :param digest: the archive content's sha256 in hex.
    """
    return f"{output_path.rstrip('/')}/source/{digest[:32]}/"


def job_hyperparameters(spec: Any, job_name: str, region: str) -> dict[str, str]:
    """Return the hyperparameters a training job's containers get: the spec's, plus script mode's when it has an
    entry point.

    :param spec: the TrainingSpec.
    :param job_name: the job's name.
    :param region: the AWS region reported to the container.
    """
    if not spec.entry_point:
        return dict(spec.hyperparameters)
    return {
        **spec.hyperparameters,
        **script_hyperparameters(spec.entry_point, job_name, region, spec.container_log_level),
    }


def script_mode_code(hyperparameters: Mapping[str, str], inputs: Mapping[str, Any]) -> tuple[str, str] | None:
    """Return a script-mode training job's (sourcedir.tar.gz URI, entry point) from its record, or None.

    :param hyperparameters: the hyperparameters the containers got (``sagemaker_program`` JSON-encoded).
    :param inputs: channel name -> {uri, ...} as the record keeps them.
    """
    program, channel = hyperparameters.get(PROGRAM), inputs.get(CODE_CHANNEL)
    if not program or not isinstance(channel, Mapping) or not channel.get("uri"):
        return None
    try:
        name = json.loads(program)  # the SDK's encoding
    except ValueError:
        name = program  # written by hand, unencoded
    return f"{str(channel['uri']).rstrip('/')}/{SOURCE_ARCHIVE}", str(name)


# Serving, as the SDK arranges a framework model with repacking (its form for network-isolated models, and the one
# that needs no S3 access from inside the container): the code under code/ in model.tar.gz, named by environment.
MODEL_CODE_FOLDER = "code"
# Where the SDK's repack puts dependencies: code/lib/<base name> (sagemaker.utils._create_or_update_code_dir).
MODEL_CODE_LIBRARIES = "lib"
SERVING_SUBMIT_DIRECTORY = f"/opt/ml/model/{MODEL_CODE_FOLDER}"
# Bumped whenever the repacked archive's layout changes, so an older repack is never reused for a newer layout.
REPACK_LAYOUT = "1"


def serving_environment(program: str, region: str, log_level: int = DEFAULT_LOG_LEVEL) -> dict[str, str]:
    """Return the environment the SDK gives a repacked framework model's containers (Model._script_mode_env_vars).

    :param program: the entry point, relative to code/.
    :param region: the AWS region reported to the container.
    :param log_level: the toolkit's log level (a ``logging`` level).
    """
    return {
        PROGRAM.upper(): program,
        SUBMIT_DIRECTORY.upper(): SERVING_SUBMIT_DIRECTORY,
        LOG_LEVEL.upper(): str(int(log_level)),
        REGION.upper(): region,
    }


def repacked_model_uri(model_uri: str, model_version: str, code_digest: str) -> str:
    """Return where a model repacked with a given code is kept: ``<model folder>/script-mode/<sha256>/model.tar.gz``,
    content-addressed by the model object's URI and version and the code's content, so a repack happens once.

    :param model_uri: the model.tar.gz served.
    :param model_version: the store's version of that object (its size and ETag).
    :param code_digest: the sha256 of the code placed under code/.
    """
    folder = model_uri.rsplit("/", 1)[0]
    key = hashlib.sha256(f"{REPACK_LAYOUT}\0{model_uri}\0{model_version}\0{code_digest}".encode()).hexdigest()
    return f"{folder}/script-mode/{key[:32]}/model.tar.gz"
