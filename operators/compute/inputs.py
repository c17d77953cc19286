"""What a job reads, listed before it starts (none is an error), so bad input fails fast and nothing costly runs."""

from __future__ import annotations

from ml_lifecycle.compute.records import StoreFor
from ml_lifecycle.core.job_kinds import RECORDS_FOLDER
from ml_lifecycle.core.manifest import parse_manifest
from ml_lifecycle.core.specs import Channel, TransformSpec
from ml_lifecycle.core.uris import ArtifactUri, parse_uri
from ml_lifecycle.errors import SpecError
from ml_lifecycle.stores.base import ObjectInfo


def list_channels(
    channels: dict[str, Channel], store_for: StoreFor, parameter: str = "channels"
) -> dict[str, list[ObjectInfo]]:
    """List every channel's objects, failing with a clear message when one holds none.

    :param channels: channel name -> Channel.
    :param store_for: returns the store for a URI.
    :param parameter: what the user calls them, for error messages (``channels``; processing's ``inputs``).
    """
    listings: dict[str, list[ObjectInfo]] = {}
    for name, channel in sorted(channels.items()):
        where = f"{parameter}[{name!r}]"
        uri = parse_uri(channel.uri, where)
        objects = manifest_objects(uri, store_for, where) if channel.data_type == "ManifestFile" else None
        objects = objects if objects is not None else store_for(uri).list_objects(uri)
        if not objects:
            raise SpecError(
                where,
                f"{channel.uri} holds no objects (the prefix is missing or empty)",
                "Upload the data there, or point it at the prefix that holds it",
            )
        listings[name] = objects
    return listings


def manifest_objects(manifest_uri: ArtifactUri, store_for: StoreFor, where: str) -> list[ObjectInfo]:
    """List the objects a manifest names, with their sizes and ETags; a listed key that is missing is an error.

    :param manifest_uri: the manifest object.
    :param store_for: returns the store for a URI.
    :param where: the parameter name used in error messages.
    """
    prefix, keys = parse_manifest(store_for(manifest_uri).read_bytes(manifest_uri), where)
    prefix_uri = parse_uri(prefix, where)
    found = {o.relative_key: o for o in store_for(prefix_uri).list_objects(prefix_uri)}
    missing = [k for k in keys if k not in found]
    if missing:
        raise SpecError(
            where,
            f"the manifest names {len(missing)} missing object(s), e.g. {missing[0]!r}",
            f"Upload them below {prefix} or remove them from the manifest",
        )
    return [found[k] for k in keys]


def list_transform_inputs(spec: TransformSpec, store_for: StoreFor) -> list[ObjectInfo]:
    """List the objects to transform: every object below input_uri, or those a manifest names; none is an error.

    :param spec: the transform spec.
    :param store_for: returns the store for a URI.
    """
    input_uri = parse_uri(spec.input_uri, "input_uri")
    if spec.data_type == "ManifestFile":  # training's manifest reader, so both jobs read manifests alike
        objects = manifest_objects(input_uri, store_for, "input_uri")
    else:
        objects = store_for(input_uri).list_objects(input_uri)
        objects = [o for o in objects if not o.relative_key.startswith(RECORDS_FOLDER + "/")]
    if not objects:
        raise SpecError("input_uri", f"{spec.input_uri} holds no objects", "Upload the input there or fix input_uri")
    return objects
