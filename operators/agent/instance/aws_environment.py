"""What a container on an instance needs to reach AWS as its agent does: the instance role through the metadata
service, and any endpoint the instance was told. On a real instance none of these is set: containers on the host
network reach the metadata service at its usual address and the default chain finds the role."""

from __future__ import annotations

import os
from collections.abc import Mapping

# Settings of the AWS SDKs that point at the metadata service or at AWS itself; passed on only when set.
PASSED_ON = ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")


def instance_aws_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return the agent's AWS endpoint settings that its containers get too.

    :param environ: the agent's environment; None reads os.environ.
    """
    source = os.environ if environ is None else environ
    return {name: source[name] for name in PASSED_ON if source.get(name)}
