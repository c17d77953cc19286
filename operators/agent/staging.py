"""Stage training channels: mount local folders in place, download the rest, share each host its objects."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ml_lifecycle.agent.records import StoreFor
from ml_lifecycle.core.contract import HostLayout
from ml_lifecycle.core.sharding import shard_round_robin
from ml_lifecycle.core.specs import Channel
from ml_lifecycle.core.uris import parse_uri

log = logging.getLogger(__name__)

# Lineage keeps each object's ETag for channels up to this many objects, and a digest of all of them always.
MAX_LISTED_OBJECTS = 100


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
    """
    sources: dict[str, dict[str, str]] = {host: {} for host in hosts}
    inputs: dict[str, dict[str, Any]] = {}
    for name, channel in sorted(channels.items()):
        uri = parse_uri(channel.uri, f"channels[{name!r}]")
        store = store_for(uri)
        objects = listings[name]
        inputs[name] = _lineage(channel.uri, objects)
        local = store.local_path(uri)
        sharded = channel.distribution == "ShardedByS3Key" and len(hosts) > 1
        if local and os.path.isdir(local) and not sharded:
            for host in hosts:
                sources[host][name] = local
            log.info("Channel %s: %d objects mounted in place from %s", name, len(objects), local)
            continue
        if not sharded:
            target = os.path.join(shared_dir, "input", "data", name)
            store.download_prefix(uri, target, objects)
            for host in hosts:
                sources[host][name] = target
            log.info(
                "Channel %s: %d objects (%d bytes) staged for all hosts",
                name,
                len(objects),
                inputs[name]["bytes"],
            )
            continue
        for host, share in zip(hosts, shard_round_robin(objects, len(hosts)), strict=True):
            target = layouts[host].staged_channel_dir(name)
            os.makedirs(target, exist_ok=True)
            store.download_prefix(uri, target, share)
            sources[host][name] = target
            log.info("Channel %s: %d of %d objects staged for %s", name, len(share), len(objects), host)
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
