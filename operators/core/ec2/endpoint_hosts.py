"""Where an EC2 endpoint's instances and the Airflow side meet in S3: each host's report of whether it serves."""

from __future__ import annotations

from ml_lifecycle.core.uris import ArtifactUri

HOST_REPORT = "endpoint-host.json"


def host_report_uri(staging: ArtifactUri, instance_id: str) -> ArtifactUri:
    """Return where an instance's endpoint host reports whether its container serves.

    :param staging: the revision's staging prefix.
    :param instance_id: the instance.
    """
    return staging.join("hosts", instance_id, HOST_REPORT)
