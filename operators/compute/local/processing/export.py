"""Upload a processing job's outputs: each output's folder, from every host, to its destination."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ml_lifecycle.compute.local.training.export import HostsHereExport
from ml_lifecycle.core.processing_spec import ProcessingSpec
from ml_lifecycle.core.uris import ArtifactUri, parse_uri

log = logging.getLogger(__name__)

# The file store's in-flight prefix: a reader or a delete never takes a half-placed file for an output.
LINK_PREFIX = ".tmp-link-"


class ProcessingExport(HostsHereExport):
    """Uploads every file below each output's LocalPath to its destination, keeping relative paths (as SageMaker does,
    every host's files go to the same destination).

    :param store_for: returns the store for a URI.
    """

    def export(
        self, spec: ProcessingSpec, job_dir: Path, layouts: Mapping[str, Any], out_uri: ArtifactUri
    ) -> dict[str, str]:
        """Upload each output and return output name -> destination.

        :param spec: the processing spec.
        :param job_dir: the job's working folder.
        :param layouts: host -> ProcessingLayout, for the hosts that ran here.
        :param out_uri: the job's records folder (unused: outputs go to their destinations).
        """
        folders = {host: layout.host_outputs() for host, layout in layouts.items()}
        folders.update(self.remote_dirs)
        uploaded: dict[str, str] = {}
        for output in (o for o in spec.outputs if o.upload_mode == "EndOfJob"):  # Continuous ones are synced already
            destination = parse_uri(output.destination, f"outputs[{output.name!r}].destination")
            store = self.store_for(destination)
            count = size_bytes = 0
            for host in sorted(folders):
                root = Path(folders[host][output.name])
                for path in sorted(p for p in root.rglob("*") if p.is_file()):
                    place_file(store, path, destination.join(path.relative_to(root).as_posix()))
                    count, size_bytes = count + 1, size_bytes + path.stat().st_size
            log.info("Output %s: uploaded %d files (%d bytes) to %s", output.name, count, size_bytes, destination)
            uploaded[output.name] = output.destination
        return uploaded


def place_file(store: Any, path: Path, target: ArtifactUri) -> None:
    """Put one output file at target: hard-linked into a local folder (no copy: the job's folder is removed next),
    else uploaded; the name appears atomically either way.

    :param store: the destination's store.
    :param path: the file the container wrote.
    :param target: where it goes.
    """
    local = store.local_path(target)
    if local is None:
        store.upload_file(str(path), target)
        return
    os.makedirs(os.path.dirname(local), exist_ok=True)
    temp = os.path.join(os.path.dirname(local), f"{LINK_PREFIX}{os.getpid()}-{threading.get_ident()}")
    try:
        os.link(path, temp)
    except OSError:  # another filesystem (or links refused): a copy, as any upload
        store.upload_file(str(path), target)
        return
    os.replace(temp, local)
