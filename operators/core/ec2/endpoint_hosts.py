"""Where an EC2 endpoint's instances and the Airflow side meet in S3: each host's report of whether it serves, and
its data capture counters."""

from __future__ import annotations

from ml_lifecycle.core.uris import ArtifactUri

HOST_REPORT = "endpoint-host.json"
HOST_CAPTURE = "capture.json"
# Below a revision's staging: written when its hosts are to stop (before their instances end).
STOP_REQUEST = "stop-requested"


def host_report_uri(staging: ArtifactUri, instance_id: str) -> ArtifactUri:
    """Return where an instance's endpoint host reports whether its container serves.

    :param staging: the revision's staging prefix.
    :param instance_id: the instance.
    """
    return staging.join("hosts", instance_id, HOST_REPORT)


def host_capture_uri(staging: ArtifactUri, instance_id: str) -> ArtifactUri:
    """Return where an instance's endpoint host writes its data capture counters (records written, lost, why).

    :param staging: the revision's staging prefix.
    :param instance_id: the instance.
    """
    return staging.join("hosts", instance_id, HOST_CAPTURE)
