"""Checks made before a job is started, so bad input fails fast and nothing costly runs."""

from __future__ import annotations

from ml_lifecycle.agent.records import StoreFor
from ml_lifecycle.compute.docker_engine import DockerEngine, ImageInfo
from ml_lifecycle.core.specs import Channel
from ml_lifecycle.core.uris import parse_uri
from ml_lifecycle.errors import SpecError
from ml_lifecycle.stores.base import ObjectInfo


def list_channels(channels: dict[str, Channel], store_for: StoreFor) -> dict[str, list[ObjectInfo]]:
    """List every channel's objects, failing with a clear message when one holds none.

    :param channels: channel name -> Channel.
    :param store_for: returns the store for a URI.
    """
    listings: dict[str, list[ObjectInfo]] = {}
    for name, channel in sorted(channels.items()):
        uri = parse_uri(channel.uri, f"channels[{name!r}]")
        objects = store_for(uri).list_objects(uri)
        if not objects:
            raise SpecError(
                f"channels[{name!r}]",
                f"{channel.uri} holds no objects (the prefix is missing or empty)",
                "Upload the channel's data there, or point the channel at the prefix that holds it",
            )
        listings[name] = objects
    return listings


def require_image(engine: DockerEngine, image_uri: str) -> ImageInfo:
    """Make sure the engine has the image (pulling it when missing), or fail saying how to fix it.

    :param engine: the Docker engine.
    :param image_uri: the image reference.
    """
    return engine.ensure_image(image_uri)
