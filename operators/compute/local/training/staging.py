"""Stage training channels: mount local folders in place, download the rest, share each host its objects."""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ml_lifecycle.compute.records import StoreFor
from ml_lifecycle.core.contract import HostLayout
from ml_lifecycle.core.sharding import shard_round_robin
from ml_lifecycle.core.specs import Channel
from ml_lifecycle.core.uris import parse_uri
from ml_lifecycle.errors import SpecError
from ml_lifecycle.stores.base import ObjectInfo

log = logging.getLogger(__name__)

# Lineage keeps each object's ETag for channels up to this many objects, and a digest of all of them always.
MAX_LISTED_OBJECTS = 100
CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class StagedChannels:
    """Where each host finds each channel, and what was staged.

    :param sources: host -> channel name -> folder on the engine's host mounted at /opt/ml/input/data/<channel>.
    :param inputs: channel name -> lineage facts (uri, object count, bytes, etag digest, etags when few).
    """

    sources: dict[str, dict[str, str]]
    inputs: dict[str, dict[str, Any]]


def stage_channels(
    channels: Mapping[str, Channel],
    hosts: Sequence[str],
    layouts: Mapping[str, HostLayout],
    shared_dir: str,
    store_for: StoreFor,
    listings: Mapping[str, list[Any]],
    gunzip: frozenset[str] = frozenset(),
) -> StagedChannels:
    """Make every channel's objects available to every host as SageMaker's File mode does.

    FullyReplicated local folders are mounted in place (no copy); remote channels are downloaded once and shared
    read-only by all hosts; ShardedByS3Key gives each host only its share (objects dealt in key order).

    :param channels: channel name -> Channel.
    :param hosts: the host names.
    :param layouts: host -> its /opt/ml layout.
    :param shared_dir: a folder for data that all hosts share.
    :param store_for: returns the store for a URI.
    :param listings: channel name -> its objects, as preflight.list_channels returned them.
    :param gunzip: the channels whose objects are decompressed as they are staged (never mounted in place).
    """
    sources: dict[str, dict[str, str]] = {host: {} for host in hosts}
    inputs: dict[str, dict[str, Any]] = {}
    for name, channel in sorted(channels.items()):
        objects = listings[name]
        inputs[name] = _lineage(channel.uri, objects)
        store = store_for(parse_uri(objects[0].uri))
        whole_folder = channel.data_type == "S3Prefix" and store.local_path(parse_uri(channel.uri))
        sharded = channel.distribution == "ShardedByS3Key" and len(hosts) > 1
        if whole_folder and os.path.isdir(whole_folder) and not sharded and name not in gunzip:
            for host in hosts:
                sources[host][name] = whole_folder
            log.info("Channel %s: %d objects mounted in place from %s", name, len(objects), whole_folder)
            continue
        shares = shard_round_robin(objects, len(hosts)) if sharded else [objects]
        targets = (
            [layouts[host].staged_channel_dir(name) for host in hosts]
            if sharded
            else [os.path.join(shared_dir, "input", "data", name)]
        )
        for share, target in zip(shares, targets, strict=True):
            os.makedirs(target, exist_ok=True)
            if store.local_path(parse_uri(objects[0].uri)):
                _link_files(share, target)
            else:
                store.download_prefix(parse_uri(objects[0].uri), target, share)
            if name in gunzip:
                gunzip_files(share, target)
        for index, host in enumerate(hosts):
            sources[host][name] = targets[index if sharded else 0]
        log.info(
            "Channel %s: %d objects (%d bytes) staged %s",
            name,
            len(objects),
            inputs[name]["bytes"],
            f"in {len(hosts)} shards" if sharded else "for all hosts",
        )
    return StagedChannels(sources=sources, inputs=inputs)


def _lineage(uri: str, objects: Sequence[Any]) -> dict[str, Any]:
    """Summarise a channel's objects for the job record and the model manifest.

    :param uri: the channel URI.
    :param objects: its ObjectInfo list.
    """
    digest = hashlib.sha256()
    for obj in objects:
        digest.update(f"{obj.relative_key}\0{obj.etag}\n".encode())
    facts: dict[str, Any] = {
        "uri": uri,
        "objects": len(objects),
        "bytes": sum(obj.size_bytes for obj in objects),
        "etags_sha256": digest.hexdigest(),
    }
    if len(objects) <= MAX_LISTED_OBJECTS:
        facts["etags"] = {obj.relative_key: obj.etag for obj in objects}
    return facts


def _link_files(objects: Sequence[ObjectInfo], target: str) -> None:
    """Give a host local files without copying them: hard links (copies only across filesystems).

    :param objects: file:// objects.
    :param target: the folder to populate, keeping relative keys.
    """
    root = os.path.realpath(target)
    for obj in objects:
        destination = os.path.realpath(os.path.join(root, obj.relative_key))
        if not destination.startswith(root + os.sep):
            raise SpecError("channels", f"{obj.relative_key!r} points outside the channel", "Rename the file")
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        source = parse_uri(obj.uri).path
        try:
            os.link(source, destination)
        except OSError:
            shutil.copy2(source, destination)


def gunzip_files(objects: Sequence[ObjectInfo], target: str) -> None:
    """Decompress staged gzip objects in place; a ``.gz`` suffix is dropped (the source of a hard link is untouched).

    :param objects: the objects staged into target.
    :param target: the folder holding them, by relative key.
    """
    for obj in objects:
        path = os.path.join(target, obj.relative_key)
        unpacked = path[: -len(".gz")] if path.endswith(".gz") else path
        scratch = unpacked + ".gunzip-partial"
        try:
            with gzip.open(path, "rb") as source, open(scratch, "wb") as out:
                shutil.copyfileobj(source, out, CHUNK_BYTES)
        except (OSError, EOFError) as err:
            raise SpecError(
                "S3CompressionType", f"{obj.uri} is not gzip data ({err})", "Set compression 'None' for this input"
            ) from err
        os.unlink(path)  # a hard link: the source file keeps its data
        os.replace(scratch, unpacked)
