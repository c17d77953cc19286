"""Where a person looks at an artifact or an image: the S3 and ECR consoles, a registry's tag list, a local path.

A job's logs and machines are linked by its backend (``Backend.job_links``).
"""

from __future__ import annotations

import os
import re
from urllib.parse import quote

from ml_lifecycle.core.uris import parse_uri

S3_CONSOLE_ENV = "ML_LIFECYCLE_S3_CONSOLE"

_ECR = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repo>[a-z0-9._/-]+)(?::(?P<tag>[\w.-]+))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "host.docker.internal")


def artifact_url(uri: str, region: str) -> str:
    """Return a browsable location for an artifact URI: the S3 console for ``s3://``, the path for ``file://``.

    ``ML_LIFECYCLE_S3_CONSOLE`` overrides the S3 console with a template of ``{bucket}``, ``{key}`` and
    ``{region}``, e.g. ``http://localhost:9001/browser/{bucket}/{key}`` for MinIO.

    :param uri: an ``s3://`` or ``file://`` URI (a prefix ends with ``/``).
    :param region: the AWS region.
    """
    if not uri:
        return ""
    parsed = parse_uri(uri, "uri")
    if parsed.scheme != "s3":
        return str(parsed) + ("/" if uri.endswith("/") else "")
    key = parsed.path + ("/" if uri.endswith("/") and parsed.path else "")
    template = os.environ.get(S3_CONSOLE_ENV)
    if template:
        return template.format(bucket=parsed.bucket, key=quote(key), region=region)
    kind = "buckets" if not key or key.endswith("/") else "object"
    return (
        f"https://s3.console.aws.amazon.com/s3/{kind}/{parsed.bucket}?region={region}"
        f"&prefix={quote(key, safe='')}&showversions=false"
    )


def image_url(image_uri: str) -> str:
    """Return where an image can be seen: its page in the ECR console, or a registry's tag list.

    :param image_uri: ``registry/repository[:tag][@digest]``.
    """
    if not image_uri:
        return ""
    ecr = _ECR.match(image_uri)
    if ecr:
        region, account, repo = ecr["region"], ecr["account"], ecr["repo"]
        base = f"https://{region}.console.aws.amazon.com/ecr/repositories/private/{account}/{repo}"
        if ecr["digest"]:
            return f"{base}/_/image/{ecr['digest']}/details?region={region}"
        return f"{base}?region={region}"
    host, _, rest = image_uri.partition("/")
    if not rest or ("." not in host and ":" not in host and host != "localhost"):
        return ""  # an image on the engine only (no registry host), e.g. a local build
    repo = rest.split("@", 1)[0]
    if ":" in repo.rsplit("/", 1)[-1]:
        repo = repo.rsplit(":", 1)[0]
    scheme = "http" if host.split(":")[0] in _LOCAL_HOSTS else "https"
    return f"{scheme}://{host}/v2/{repo}/tags/list"
