"""Export a training job's outputs: every host's model and output data, merged, to ``<out>/output/``."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from ml_lifecycle.compute.local.serving import archive
from ml_lifecycle.compute.local.training.host_watch import WatchResult
from ml_lifecycle.compute.records import StoreFor
from ml_lifecycle.core import contract
from ml_lifecycle.core.specs import TrainingSpec
from ml_lifecycle.core.uris import ArtifactUri

log = logging.getLogger(__name__)


class TrainingExport(Protocol):
    """How the runner gathers hosts that ran elsewhere and uploads the job's outputs (of any kind of job)."""

    def collect(self, watched: WatchResult, job_dir: Path) -> dict[str, str]:
        """Add the hosts that ran elsewhere to watched once the hosts here ended; return host -> failure reason.

        :param watched: how the hosts here ended (updated in place).
        :param job_dir: the job's working folder.
        """
        ...

    def export(self, spec: Any, job_dir: Path, layouts: Mapping[str, Any], out_uri: ArtifactUri) -> dict[str, str]:
        """Upload the outputs and return artifact name -> URI.

        :param spec: the job's spec.
        :param job_dir: the job's working folder (archives are built there).
        :param layouts: host -> layout, for the hosts that ran here.
        :param out_uri: the job's folder (``<output_path>/<job>`` for training).
        """
        ...


class MergedExport(TrainingExport, Protocol):
    """An export that also uploads what hosts that ran elsewhere handed in (a peer merge fills remote_dirs)."""

    remote_dirs: dict[str, dict[str, str]]


class HostsHereExport:
    """The base of exports that upload from folders on this machine: the hosts here, and hosts that ran elsewhere whose
    outputs a peer merge downloaded into remote_dirs.

    :param store_for: returns the store for a URI.
    """

    def __init__(self, store_for: StoreFor) -> None:
        self.store_for = store_for
        # host -> output name -> folder, of hosts that ran elsewhere (training: "model" and "output").
        self.remote_dirs: dict[str, dict[str, str]] = {}

    def collect(self, watched: WatchResult, job_dir: Path) -> dict[str, str]:
        """Every host ran here: nothing to add.

        :param watched: how the hosts ended.
        :param job_dir: the job's working folder.
        """
        return {}


class ArchiveExport(HostsHereExport):
    """Merges every host's model/ and output/data/ folders into model.tar.gz and output.tar.gz (SageMaker's way).

    :param store_for: returns the store for a URI.
    """

    def export(
        self, spec: TrainingSpec, job_dir: Path, layouts: Mapping[str, contract.HostLayout], out_uri: ArtifactUri
    ) -> dict[str, str]:
        """Pack every host's model and output data and upload them to ``<out>/output/``.

        :param spec: the training spec.
        :param job_dir: the job's working folder (archives are built there).
        :param layouts: host -> layout, for the hosts that ran here.
        :param out_uri: ``<output_path>/<job>``.
        """
        folders = {host: layout.host_outputs() for host, layout in layouts.items()}
        folders.update(self.remote_dirs)
        hosts = sorted(folders)
        store = self.store_for(out_uri)
        artifacts: dict[str, str] = {}
        model_files = archive.merged_files([folders[h]["model"] for h in hosts])
        if spec.compression == "NONE":
            for relative, source in model_files.items():
                store.upload_file(source, out_uri.join("output", "model", relative))
            artifacts["model"] = str(out_uri.join("output", "model"))
        else:
            artifacts["model"] = upload_archive(store, model_files, job_dir, out_uri, contract.MODEL_ARCHIVE)
        output_files = archive.merged_files([folders[h]["output"] for h in hosts])
        artifacts["output"] = upload_archive(store, output_files, job_dir, out_uri, contract.OUTPUT_ARCHIVE)
        return artifacts


def upload_archive(store: Any, files: dict[str, str], job_dir: Path, out_uri: ArtifactUri, name: str) -> str:
    """Write files into a tar.gz and upload it as ``<out>/output/<name>``; return its URI.

    :param store: the output store.
    :param files: relative name -> source path.
    :param job_dir: where the archive is built.
    :param out_uri: ``<output_path>/<job>``.
    :param name: the archive's name.
    """
    target = out_uri.join("output", name)
    with tempfile.TemporaryDirectory(dir=job_dir) as scratch:
        path = os.path.join(scratch, name)
        size = archive.write_tar_gz(files, path)
        store.upload_file(path, target)
    log.info("Uploaded %s (%d files, %d bytes)", target, len(files), size)
    return str(target)
