"""SageMaker manifest files: ``[{"prefix": "s3://bucket/prefix/"}, "relative/key", ...]``."""

from __future__ import annotations

import json

from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.uris import parse_uri


def parse_manifest(data: bytes, parameter: str) -> tuple[str, list[str]]:
    """Return (prefix URI, relative keys) from a manifest file's content.

    :param data: the manifest's bytes.
    :param parameter: the parameter name used in error messages, e.g. ``channels['train']``.
    """
    fix = 'Write a JSON list: [{"prefix": "s3://bucket/prefix/"}, "relative/key1", "relative/key2"]'
    try:
        document = json.loads(data)
    except ValueError as err:
        raise SpecError(parameter, f"the manifest is not JSON ({err})", fix) from err
    if not isinstance(document, list) or not document or not isinstance(document[0], dict):
        raise SpecError(parameter, 'the manifest does not start with a {"prefix": ...} object', fix)
    prefix = document[0].get("prefix")
    if not isinstance(prefix, str):
        raise SpecError(parameter, "the manifest's first entry has no prefix", fix)
    parse_uri(prefix, f"{parameter} manifest prefix")
    keys = document[1:]
    if not keys or not all(isinstance(k, str) and k and not k.startswith("/") for k in keys):
        raise SpecError(parameter, "the manifest lists no relative keys", fix)
    if any(".." in k.split("/") for k in keys):
        raise SpecError(parameter, "a manifest key climbs out of the prefix with '..'", "List keys below the prefix")
    return prefix.rstrip("/"), list(dict.fromkeys(keys))
